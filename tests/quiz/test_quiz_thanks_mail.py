"""A quiz can e-mail its visitor the thank-you message (off by default), through the
outbox, to a real SMTP server."""

from __future__ import annotations

import re

import pytest
import webtest
from quizkit import good_answers, make_quiz, public_path, submit
from sqlalchemy import select

from mail.smtpkit import MailSink
from orbitflow.app import make_app
from orbitflow.audit.models import AuditEntry
from orbitflow.deliveries import worker_for
from orbitflow.lifecycle import shut_down
from orbitflow.ratelimit import rate_limiter
from orbitflow_plugins.quiz.models import Quiz
from support import csrf_token, login


@pytest.fixture(scope="module")
def sink():
    started = MailSink().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def mail_app(backend, sink):
    app = make_app(backend.ini(), environ={"SMTP_URL": sink.url}, engine=backend.engine)
    yield app
    # Its funnel events are written now, not into a later module's rows.
    shut_down(app.registry)


def _visit(app, company, quiz, **contact):
    rate_limiter(app.registry).reset()
    visitor = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.8.8.8"})
    submit(visitor, public_path(company, quiz), good_answers(quiz, **contact), status=303)


def test_no_thank_you_mail_by_default(mail_app, sink, db, company):
    sink.received.clear()
    quiz = make_quiz(db, company)
    assert quiz.thank_you_email is False
    _visit(mail_app, company, quiz)
    worker_for(mail_app.registry).run_until_idle()
    assert [mail for mail in sink.received if "ada@example.com" in mail.recipients] == []


def test_a_quiz_with_the_box_ticked_thanks_its_visitor(mail_app, sink, db, company, manager):
    sink.received.clear()
    quiz = make_quiz(db, company)
    client = webtest.TestApp(mail_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.1"})
    rate_limiter(mail_app.registry).reset()
    login(client, manager)
    builder = client.get(f"/quizzes/{quiz.id}")
    assert 'name="thank_you_email"' in builder.text
    action = re.search(r'<form[^>]+action="([^"]+/settings)"', builder.text).group(1)
    form = {
        name: value
        for name, value in re.findall(r'<input[^>]+name="(\w+)"[^>]+value="([^"]*)"', builder.text)
        if name not in ("consent_enabled", "thank_you_email")
    }
    form.update(
        {
            "title": quiz.title,
            "slug": quiz.slug,
            "contact_name": "optional",
            "contact_email": "required",
            "contact_phone": "optional",
            "thank_you_message": "Thanks, Ada! Your plan is on its way.",
            "thank_you_email": "1",
            "consent_enabled": "1",
            "consent_text": "I agree.",
            "csrf_token": csrf_token(client),
        }
    )
    client.post(action, form, status=303)
    db.expire_all()
    assert db.get(Quiz, quiz.id).thank_you_email is True
    change = db.scalars(select(AuditEntry).where(AuditEntry.action == "quiz.update")).one().changes
    assert change["thank_you_email"] == {"from": False, "to": True}
    _visit(mail_app, company, db.get(Quiz, quiz.id), name="Ada Lovelace", email="ada@example.com")
    worker_for(mail_app.registry).run_until_idle()
    [mail] = [mail for mail in sink.received if mail.recipients == ["ada@example.com"]]
    assert mail.subject == f"Thank you: {quiz.title}"
    assert "Thanks, Ada! Your plan is on its way." in mail.text and "Hello Ada Lovelace" in mail.text
