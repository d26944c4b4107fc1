"""A quiz's redirect address: refused on save unless it is a clean absolute http(s) URL,
normalised to ASCII, and never able to break the visitor's redirect."""

from __future__ import annotations

import pytest
from quizkit import count, good_answers, public_path, submit
from sqlalchemy import select, update

from orbitflow.audit.models import AuditEntry
from orbitflow.leads.models import Lead
from orbitflow.syslog.models import SystemLogEntry
from orbitflow_plugins.quiz.definition import SETTINGS_FIELDS
from orbitflow_plugins.quiz.models import Quiz
from support import csrf_token

BAD_ADDRESSES = [
    ("https://acme.example/thanks\r\nSet-Cookie: session=stolen", "control characters"),
    ("https://acme.example/thanks\nx", "control characters"),
    ("https://acme.example/\tthanks", "control characters"),
    ("https://acme.example/a b", "control characters"),
    ("https://acme.example/\u2028next", "control characters"),
    ("https://acme.example/\u202egnp.exe", "control characters"),
    ("https://acme.example\\@evil.example/", "control characters"),
    ("https://user:secret@acme.example/", "user name and password"),
    ("https://acme.example:99999/", "full http:// or https://"),
    ("https://[::1/thanks", "full http:// or https://"),
    ("//evil.example/thanks", "full http:// or https://"),
    ("javascript:alert(1)", "full http:// or https://"),
    ("https://bad_host!.example/", "host name is not valid"),
]


def settings_form(testapp, quiz: Quiz, **changes: str) -> dict[str, str]:
    form = {name: str(getattr(quiz, name) or "") for name in SETTINGS_FIELDS}
    form = {key: value for key, value in form.items() if key not in ("consent_enabled", "thank_you_email")}
    if quiz.consent_enabled:
        form["consent_enabled"] = "1"
    return {**form, **changes, "csrf_token": csrf_token(testapp)}


def stored_redirect(db, quiz: Quiz) -> str | None:
    db.expire_all()
    return db.get(Quiz, quiz.id).redirect_url


@pytest.mark.parametrize(("address", "message"), BAD_ADDRESSES)
def test_builder_refuses_a_bad_redirect_with_a_message(testapp, db, quiz, manager, login_as, address, message):
    login_as(manager)
    page = testapp.post(f"/quizzes/{quiz.id}/settings", settings_form(testapp, quiz, redirect_url=address), status=400)
    assert message in page.text
    assert stored_redirect(db, quiz) is None
    assert "quiz.update" not in [entry.action for entry in db.scalars(select(AuditEntry))]


@pytest.mark.parametrize(("address", "message"), BAD_ADDRESSES[:8])
def test_api_refuses_a_bad_redirect_with_422(testapp, db, quiz, manager, login_as, address, message):
    login_as(manager)
    error = testapp.patch_json(
        f"/api/v1/quizzes/{quiz.id}",
        {"redirect_url": address},
        headers={"X-CSRF-Token": csrf_token(testapp)},
        status=422,
    ).json["error"]
    assert message in error["fields"]["redirect_url"]
    assert stored_redirect(db, quiz) is None


def test_non_ascii_address_is_stored_in_ascii_and_redirects(testapp, db, company, quiz, manager, login_as):
    login_as(manager)
    address = "https://Bücher.example/danke-schön?quelle=straße#oben"
    testapp.post(f"/quizzes/{quiz.id}/settings", settings_form(testapp, quiz, redirect_url=address), status=303)
    ascii_address = "https://xn--bcher-kva.example/danke-sch%C3%B6n?quelle=stra%C3%9Fe#oben"
    assert stored_redirect(db, quiz) == ascii_address
    visitor = testapp.__class__(testapp.app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.8.8.8"})
    response = submit(visitor, public_path(company, quiz), good_answers(quiz), status=303)
    assert response.headers["Location"] == ascii_address


@pytest.mark.parametrize(
    "stored",
    [
        "https://acme.example/thanks\r\nSet-Cookie: session=stolen",
        "https://acme.example/\tthanks",
        "https://acme.example/a b",
        "https://[::1/thanks",
        "javascript:alert(1)",
    ],
)
def test_a_bad_stored_redirect_sends_the_visitor_to_the_thank_you_page(testapp, db, company, quiz, stored):
    # Written around the rules, as an older version or a direct database edit could.
    db.execute(update(Quiz).where(Quiz.id == quiz.id, Quiz.company_id == company.id).values(redirect_url=stored))
    db.commit()
    response = submit(testapp, public_path(company, quiz), good_answers(quiz), status=303)
    assert response.location.startswith(f"http://localhost/q/{company.subscription_id}/{quiz.slug}/thanks")
    assert response.follow().status_int == 200
    assert count(db, Lead) == 1
    assert count(db, SystemLogEntry) == 0


def test_a_stored_non_ascii_redirect_is_encoded_on_the_way_out(testapp, db, company, quiz):
    db.execute(
        update(Quiz)
        .where(Quiz.id == quiz.id, Quiz.company_id == company.id)
        .values(redirect_url="https://acme.example/grüße")
    )
    db.commit()
    response = submit(testapp, public_path(company, quiz), good_answers(quiz), status=303)
    assert response.headers["Location"] == "https://acme.example/gr%C3%BC%C3%9Fe"
    assert count(db, Lead) == 1
