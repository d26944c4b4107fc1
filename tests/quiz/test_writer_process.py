"""The writer process: drafts cross a pipe, outcomes and errors come back, a crash is survived."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from quizkit import TEST_SECRET, count

from orbitflow.app import make_app
from orbitflow.config import ConfigError, load_settings
from orbitflow.db import DatabaseUnavailable
from orbitflow.leads.models import Lead
from orbitflow.shared import shared
from orbitflow_plugins.quiz.intake import LostRace, QuizChanged, SubmissionStore, SubmissionWriter, current_stamps
from orbitflow_plugins.quiz.models import QuizSubmission
from orbitflow_plugins.quiz.submissions import Stored
from orbitflow_plugins.quiz.writer_process import ProcessWriter


@pytest.fixture
def writer(backend):
    settings = load_settings(backend.ini(), environ={})
    writer = ProcessWriter(settings.database, TEST_SECRET)
    yield writer
    if writer.pid is not None:
        os.kill(writer.pid, signal.SIGKILL)


def test_drafts_are_written_by_another_process(writer, db, draft):
    stored = writer.store(draft("ada@example.com"))
    assert isinstance(stored, Stored) and stored.created_lead
    assert writer.pid is not None and writer.pid != os.getpid()
    submission = db.get(QuizSubmission, stored.submission_id)
    assert submission.lead_id == stored.lead_id and submission.utm_source == "facebook"
    assert submission.outcome_title == "Growth"
    again = writer.store(draft("ada@example.com"))
    assert again.lead_id == stored.lead_id and not again.created_lead


def test_errors_come_back_as_what_the_request_makes_of_them(writer, db, draft, quiz):
    writer.store(draft("first@example.com", nonce="token-used-once"))
    with pytest.raises(LostRace):
        writer.store(draft("second@example.com", nonce="token-used-once"))
    with db.get_bind().connect() as connection:
        company_changed, quiz_changed, _ = current_stamps(connection, [quiz.id])[quiz.id]
    with pytest.raises(QuizChanged):
        writer.store(draft("third@example.com", stamp=(company_changed, quiz_changed, "draft")))
    assert count(db, QuizSubmission) == 1
    assert count(db, Lead, Lead.email.in_(["second@example.com", "third@example.com"])) == 0


def test_many_requests_at_once_each_get_their_own_outcome(writer, db, draft):
    drafts = [draft(f"visitor{number}@example.com") for number in range(12)]
    results: dict[int, Stored] = {}

    def submit(number: int) -> None:
        results[number] = writer.store(drafts[number])

    threads = [threading.Thread(target=submit, args=(number,)) for number in range(len(drafts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 12
    for number, stored in results.items():
        submission = db.get(QuizSubmission, stored.submission_id)
        assert submission.token == drafts[number].nonce
        assert db.get(Lead, stored.lead_id).email == f"visitor{number}@example.com"


def test_a_writer_process_that_dies_fails_what_waits_and_is_started_again(writer, db, draft):
    writer.store(draft("before@example.com"))
    first = writer.pid
    os.kill(first, signal.SIGSTOP)  # stalled: the next draft waits in its pipe
    failed: list[Exception] = []

    def submit() -> None:
        try:
            writer.store(draft("during@example.com"))
        except Exception as error:
            failed.append(error)

    waiting = threading.Thread(target=submit)
    waiting.start()
    time.sleep(0.3)
    os.kill(first, signal.SIGKILL)
    waiting.join(timeout=30)
    assert len(failed) == 1 and isinstance(failed[0], DatabaseUnavailable)
    stored = writer.store(draft("after@example.com"))
    assert writer.pid not in (None, first)
    assert db.get(QuizSubmission, stored.submission_id) is not None
    assert count(db, Lead, Lead.email == "during@example.com") == 0


def test_the_writer_is_chosen_in_the_ini(backend):
    threaded = make_app(backend.ini(**{"quiz.writer": "thread"}), environ={}, engine=backend.engine)
    assert isinstance(shared(threaded.registry, SubmissionStore), SubmissionWriter)
    default = make_app(backend.ini(), environ={}, engine=backend.engine)
    assert isinstance(shared(default.registry, SubmissionStore), ProcessWriter)
    with pytest.raises(ConfigError, match=r"quiz\.writer must be one of process, thread"):
        make_app(backend.ini(**{"quiz.writer": "fork"}), environ={}, engine=backend.engine)
