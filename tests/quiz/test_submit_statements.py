"""What a new visitor's quiz submission costs in SQL statements, with the quiz and pixels
plugins: an exact number, so that a statement added to the path fails here."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import webtest
from quizkit import TEST_SECRET, count, good_answers, public_path
from sqlalchemy import select, update

from orbitflow import companycache
from orbitflow.accounts.models import User
from orbitflow.app import make_app
from orbitflow.leads.models import Lead
from orbitflow.lifecycle import shut_down
from orbitflow.models.meta import utcnow
from orbitflow.tenants.models import Company
from orbitflow_plugins.quiz import assignment
from orbitflow_plugins.quiz.models import Quiz, QuizSubmission
from orbitflow_plugins.quiz.tokens import issue_token
from statements import Statements

# The quiz and company check, the lead by address, the first stage with its top position,
# the lead, its audit entry, its "created" line, the address key, the check that no
# concurrent submission took the address, the submission, its "quiz" line.
NEW_VISITOR_STATEMENTS = 10
# With a round-robin rule, two more: the turn counted on the rule's counter row, and the
# chosen users still active together with the counter (the lead service's owner check then
# finds the user already loaded).
ROUND_ROBIN_STATEMENTS = NEW_VISITOR_STATEMENTS + 2


@pytest.fixture
def quiz_pixels_app(backend):
    app = make_app(backend.ini(**{"orbitflow.plugins": "quiz pixels"}), environ={}, engine=backend.engine)
    yield webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.9"})
    shut_down(app.registry)


def settled(db) -> None:
    """Every row as if last changed an hour ago: rows changed in the last two seconds are
    never cached."""
    an_hour_ago = utcnow() - timedelta(hours=1)
    for model in (Company, Quiz, User):
        db.execute(update(model).values(updated_at=an_hour_ago))
    db.commit()


def post(client: webtest.TestApp, quiz: Quiz, path: str, email: str) -> None:
    token = issue_token(TEST_SECRET, quiz.id, issued_at=int(time.time()) - 30)
    client.post(path, [("token", token), *good_answers(quiz, email=email)], status=303)


def test_a_new_visitors_submission_sends_a_known_number_of_statements(backend, db, company, quiz, quiz_pixels_app):
    settled(db)
    companycache.forget(backend.engine)
    path = public_path(company, quiz)
    post(quiz_pixels_app, quiz, path, "first@example.com")  # warm-up: the caches fill
    with Statements(backend.engine) as statements:
        post(quiz_pixels_app, quiz, path, "second@example.com")
    assert len(statements.sent) == NEW_VISITOR_STATEMENTS, "\n".join(statements.sent)
    assert count(db, Lead, Lead.email == "second@example.com") == 1
    assert count(db, QuizSubmission, QuizSubmission.quiz_id == quiz.id) == 2


def test_a_round_robin_rule_adds_two_statements(backend, db, company, quiz, make_user, quiz_pixels_app):
    agents = [make_user(company, "AGENT") for _ in range(2)]
    assignment.save_rule(db, quiz, "round_robin", [str(agent.id) for agent in agents], {})
    db.commit()
    settled(db)
    companycache.forget(backend.engine)
    path = public_path(company, quiz)
    post(quiz_pixels_app, quiz, path, "first@example.com")  # warm-up: the caches fill
    with Statements(backend.engine) as statements:
        post(quiz_pixels_app, quiz, path, "second@example.com")
    assert len(statements.sent) == ROUND_ROBIN_STATEMENTS, "\n".join(statements.sent)
    db.expire_all()
    owners = [
        db.scalars(select(Lead.owner_id).where(Lead.email == email)).one()
        for email in ("first@example.com", "second@example.com")
    ]
    assert owners == [agent.id for agent in agents]
