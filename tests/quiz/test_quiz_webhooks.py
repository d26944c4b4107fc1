"""A completed quiz reaches a company's webhook as lead.created and quiz.submitted, once
each, signed, and its lead e-mails the owners; nothing for a refused submission."""

from __future__ import annotations

import pytest
import webtest
from quizkit import good_answers, make_quiz, public_path, submit

from orbitflow.app import make_app
from orbitflow.deliveries import worker_for
from orbitflow.lifecycle import shut_down
from orbitflow.ratelimit import rate_limiter
from orbitflow.webhooks import services as webhook_services
from webhooks.hookkit import Receiver, deliveries


@pytest.fixture(scope="module")
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def hooks_app(backend):
    app = make_app(backend.ini(), environ={"WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true"}, engine=backend.engine)
    yield app
    # Its funnel events are written now, not into a later module's rows.
    shut_down(app.registry)


def test_a_completed_quiz_is_sent_to_the_webhook(hooks_app, receiver, db, company, encryption):
    receiver.reset()
    quiz = make_quiz(db, company)
    _hook, secret = webhook_services.create_webhook(
        db,
        company_id=company.id,
        created_by_id=None,
        data={"url": receiver.url, "events": ["lead.created", "quiz.submitted"]},
        allow_private=True,
        encryptor=encryption,
    )
    db.commit()
    receiver.secret = secret
    visitor = webtest.TestApp(hooks_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.9.9.9"})
    rate_limiter(hooks_app.registry).reset()
    submit(visitor, public_path(company, quiz), good_answers(quiz), status=303)
    submit(visitor, public_path(company, quiz), good_answers(quiz, email="not-an-address"), status=400)
    worker_for(hooks_app.registry).run_until_idle()
    assert sorted(r.json["type"] for r in receiver.received) == ["lead.created", "quiz.submitted"]
    assert all(r.verified for r in receiver.received)
    submitted = next(r.json["data"] for r in receiver.received if r.json["type"] == "quiz.submitted")
    assert submitted["quiz_id"] == quiz.id and submitted["email"] == "ada@example.com"
    assert submitted["score"] == 12 and submitted["outcome"] == "Growth"
    assert submitted["submission_id"] is not None
    assert len(deliveries(db)) == 2


def test_a_quiz_lead_emails_the_owners(hooks_app, db, company, make_user):
    make_user(company, "OWNER", username="quinn", email="quinn@example.com")
    quiz = make_quiz(db, company)
    visitor = webtest.TestApp(hooks_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.9.9.8"})
    rate_limiter(hooks_app.registry).reset()
    submit(visitor, public_path(company, quiz), good_answers(quiz, email="grace@example.org"), status=303)
    [mail] = [row for row in deliveries(db) if row.channel == "email"]
    assert (mail.destination, mail.payload["template"]) == ("quinn@example.com", "lead_new")
    assert mail.payload["context"]["lead"]["email"] == "grace@example.org"
