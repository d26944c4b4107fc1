"""Many visitors at once, and a database connection lost mid-write: a real waitress server,
posts from several threads, rows read back through another connection."""

from __future__ import annotations

import http.client
import threading

import pytest
import waitress
from quizkit import form_body, make_quiz, post_at_once, public_path
from sqlalchemy import event, func, select, text

from orbitflow.app import make_app
from orbitflow.audit.models import AuditEntry
from orbitflow.leads.models import Lead, LeadActivity
from orbitflow.lifecycle import shut_down
from orbitflow_plugins.quiz.models import QuizSubmission

pytestmark = pytest.mark.slow

SUBMISSIONS = 200
UNIQUE_EMAILS = 160
REPEATED_TOKENS = 20
THREADS = 12


@pytest.fixture
def app(backend):
    settings = backend.ini(**{"quiz.ratelimit.submit": "100000/minute", "orbitflow.db_pool_size": "10"})
    app = make_app(settings, environ={}, engine=backend.engine)
    yield app
    shut_down(app.registry)


@pytest.fixture
def server(app):
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.effective_port
    server.close()


def count(db, model, *criteria) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*criteria))


def test_200_concurrent_submissions_give_200_submissions_and_one_lead_per_address(server, db, company, quiz):
    path = public_path(company, quiz)
    bodies = [form_body(quiz, f"visitor{number % UNIQUE_EMAILS}@example.com") for number in range(SUBMISSIONS)]
    # Some forms are posted twice at the same time (double clicks, retried requests).
    bodies += bodies[:REPEATED_TOKENS]

    statuses = post_at_once(server, path, bodies, THREADS)
    assert statuses.count(303) == len(bodies), sorted(set(statuses))
    db.expire_all()
    assert count(db, QuizSubmission) == SUBMISSIONS
    assert count(db, Lead) == UNIQUE_EMAILS
    assert count(db, QuizSubmission, QuizSubmission.created_lead.is_(True)) == UNIQUE_EMAILS
    # Every submission points at its lead, and every lead has one creation audit row.
    assert count(db, QuizSubmission, QuizSubmission.lead_id.is_(None)) == 0
    assert count(db, AuditEntry, AuditEntry.action == "lead.create") == UNIQUE_EMAILS
    assert count(db, LeadActivity, LeadActivity.kind == "quiz") == SUBMISSIONS


KILLED_BEFORE = ["INSERT INTO leads", "INSERT INTO quiz_submissions", "INSERT INTO lead_activity"]


@pytest.mark.mariadb_only
@pytest.mark.parametrize("statement", KILLED_BEFORE)
def test_a_connection_killed_mid_write_loses_nothing_and_duplicates_nothing(
    backend, mariadb_admin, server, db, company, quiz, statement
):
    """The server kills the request's connection just before one of the submission's
    statements: the transaction is gone, the request runs again, and the visitor's
    submission is stored once, with one lead."""
    killed: list[int] = []

    def kill_first(connection, _cursor, sql: str, *_args) -> None:
        if killed or not sql.lstrip().upper().startswith(statement.upper()):
            return
        connection_id = connection.connection.dbapi_connection.connection_id
        killed.append(connection_id)
        with mariadb_admin.connect() as admin:
            admin.execute(text(f"KILL {int(connection_id)}"))

    event.listen(backend.engine, "before_cursor_execute", kill_first)
    try:
        client = http.client.HTTPConnection("127.0.0.1", server, timeout=60)
        client.request(
            "POST",
            public_path(company, quiz),
            form_body(quiz, "kill@example.com"),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = client.getresponse()
        response.read()
    finally:
        event.remove(backend.engine, "before_cursor_execute", kill_first)
    assert killed, f"no {statement} was run"
    assert response.status == 303
    db.expire_all()
    assert count(db, QuizSubmission) == 1
    lead = db.scalars(select(Lead)).one()
    assert lead.email == "kill@example.com"
    assert db.scalars(select(QuizSubmission)).one().lead_id == lead.id
    assert sorted(line.kind for line in db.scalars(select(LeadActivity))) == ["created", "quiz"]
    assert count(db, AuditEntry, AuditEntry.action == "lead.create") == 1


@pytest.fixture
def company(make_company):
    return make_company(name="Busy Co", plan="ENTERPRISE")


@pytest.fixture
def quiz(db, company):
    return make_quiz(db, company)
