"""A backup taken while quiz submissions stream in is one consistent moment: every
submission it holds comes with its lead and audit row, and nothing half-written."""

from __future__ import annotations

import itertools
import threading
import time

from quizkit import count, good_answers, public_path, submit
from sqlalchemy import func, select

from foundation.helpers import ROOT, base_env, run
from orbitflow.audit.models import AuditEntry
from orbitflow.leads.models import Lead
from orbitflow_plugins.quiz.models import QuizSubmission
from tables import engine_for, every_row

INI = ROOT / "development.ini"


class Visitors(threading.Thread):
    """Submits the quiz over and over, each time from a new address and e-mail."""

    def __init__(self, testapp, path: str, quiz) -> None:
        super().__init__(daemon=True)
        # Read in this thread: the quiz belongs to the test's session, which is not shared.
        self.testapp, self.path, self.answers = testapp, path, good_answers(quiz)
        self.stopping = threading.Event()
        self.failures: list[str] = []

    def run(self) -> None:
        for number in itertools.count(1):
            if self.stopping.is_set():
                return
            environ = {"REMOTE_ADDR": f"10.77.{number // 250}.{number % 250 + 1}"}
            contact = {"email": f"visitor{number}@example.com", "name": f"Visitor {number}"}
            fields = [(key, contact.get(key, value)) for key, value in self.answers]
            response = submit(self.testapp, self.path, fields, extra_environ=environ)
            if response.status_int != 303:
                self.failures.append(f"{response.status_int}: {response.text[:200]}")
                return


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_backup_while_submissions_stream_in_restores_a_consistent_moment(
    testapp, db, backend, company, quiz, tmp_path, request
):
    visitors = Visitors(testapp, public_path(company, quiz), quiz)
    visitors.start()
    try:
        wait_for(lambda: count(db, QuizSubmission) >= 5)
        before = count(db, QuizSubmission)
        backup = tmp_path / "during.sql.gz"
        env = base_env(tmp_path, DATABASE_URL=backend.url)
        written = run(["orbitflow", "backup", INI, "--output", backup], env, cwd=tmp_path, timeout=300)
        assert written.returncode == 0, written.stderr
        after_backup = count(db, QuizSubmission)
        wait_for(lambda: count(db, QuizSubmission) >= after_backup + 3)
    finally:
        visitors.stopping.set()
        visitors.join(timeout=60)
    assert not visitors.failures
    # Submissions kept coming while the backup ran.
    assert after_backup > before

    if backend.name == "sqlite":
        target = f"sqlite:///{tmp_path / 'restored.sqlite'}"
    else:
        target = request.getfixturevalue("new_mariadb_database")()
    restored = run(["orbitflow", "restore", INI, backup], base_env(tmp_path, DATABASE_URL=target), cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr

    source_rows, restored_rows = every_row(backend.url), every_row(target)
    submissions = restored_rows["quiz_submissions"]
    assert before <= len(submissions) <= after_backup
    # Rows are as they were committed: each restored one is the source's row unchanged.
    for name in ("quiz_submissions", "leads", "audit_log"):
        source_by_id = {row[0]: row for row in source_rows[name]}
        assert all(source_by_id.get(row[0]) == row for row in restored_rows[name]), name
    engine = engine_for(target)
    try:
        with engine.connect() as connection:
            leads = connection.scalar(select(func.count()).select_from(Lead))
            created = connection.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "lead.create")
            )
            orphans = connection.scalar(
                select(func.count()).select_from(QuizSubmission).where(QuizSubmission.lead_id.not_in(select(Lead.id)))
            )
    finally:
        engine.dispose()
    # Each submission came with its own new lead and the lead's audit row: all or nothing.
    assert leads == created == len(submissions)
    assert orphans == 0
