"""Forgot password and invitations by e-mail, received by a real SMTP server."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import webtest
from sqlalchemy import select, update

from mail.smtpkit import MailSink
from orbitflow.accounts.links import AccountLink
from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import verify_password
from orbitflow.app import make_app
from orbitflow.audit.models import AuditEntry
from orbitflow.deliveries import worker_for
from orbitflow.models.meta import utcnow
from orbitflow.ratelimit import rate_limiter
from support import PASSWORD, csrf_token, login

BASE = "http://crm.example.test"
NEW_PASSWORD = "Fresh-Orbit-Pass-77"


@pytest.fixture(scope="module")
def sink():
    started = MailSink().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def app(backend, sink):
    return make_app(backend.ini(**{"orbitflow.auth_url": BASE}), environ={"SMTP_URL": sink.url}, engine=backend.engine)


@pytest.fixture
def browser(app, db, sink):
    sink.received.clear()
    rate_limiter(app.registry).reset()
    return lambda: webtest.TestApp(app, extra_environ={"HTTP_HOST": "crm.example.test", "REMOTE_ADDR": "10.0.0.7"})


@pytest.fixture
def send(app, sink):
    def run():
        worker_for(app.registry).run_until_idle()
        return list(sink.received)

    return run


@pytest.fixture
def account(make_company, make_user):
    company = make_company(name="Reset Co", subscription_id="reset-co")
    return make_user(company, "AGENT", username="rita", name="Rita Reset", email="rita@example.com")


def _ask(client, subscription_id="reset-co", who="rita", status=200):
    client.get("/password/forgot")
    return client.post(
        "/password/forgot",
        {"subscription_id": subscription_id, "login": who, "csrf_token": csrf_token(client)},
        status=status,
    )


def _link(mail) -> str:
    return re.search(rf"{re.escape(BASE)}(/password/reset/[\w-]+)", mail.text).group(1)


def test_forgot_password_sends_a_single_use_link_that_ends_every_session(browser, account, send, db):
    signed_in = browser()
    login(signed_in, account)
    assert signed_in.get("/dashboard").status_int == 200
    answer = _ask(browser(), who="RITA@example.com")
    assert "If an account matches" in answer.text
    [mail] = send()
    assert mail.recipients == ["rita@example.com"] and mail.subject == "Your OrbitFlow password"
    path = _link(mail)
    assert f'href="{BASE}{path}"' in mail.html
    visitor = browser()
    page = visitor.get(path)
    assert "Choose a new password" in page.text and page.headers["Cache-Control"] == "no-store"
    token = csrf_token(visitor)
    weak = visitor.post(path, {"new_password": "short", "confirm_password": "short", "csrf_token": token}, status=400)
    assert "Use at least 10 characters." in weak.text
    visitor.post(
        path, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD, "csrf_token": token}, status=303
    )
    db.expire_all()
    assert verify_password(db.get(User, account.id).password_hash, NEW_PASSWORD)
    assert "This link does not work" in visitor.get(path, status=400).text, "single use"
    assert signed_in.get("/dashboard", status=302).location.startswith(f"{BASE}/login"), "other sessions ended"
    login(browser(), account, password=NEW_PASSWORD)
    actions = [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert "auth.password_reset_request" in actions and "auth.password_reset" in actions


def test_the_answer_is_the_same_whether_or_not_the_account_exists(browser, account, send, db):
    known = _ask(browser(), who="rita")
    unknown = _ask(browser(), who="nobody")
    no_company = _ask(browser(), subscription_id="no-such-co", who="rita")

    def message(page):
        return re.search(r"<div class=\"flash flash-success\"[^>]*>([^<]+)</div>", page.text).group(1)

    assert message(known) == message(unknown) == message(no_company)
    assert len(send()) == 1
    entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "auth.password_reset_request")).all()
    assert [entry.changes["sent"] for entry in entries] == [True, False, False]


def test_links_expire_and_a_new_one_voids_the_old(browser, account, send, db):
    _ask(browser())
    _ask(browser())
    first, second = send()
    old, new = _link(first), _link(second)
    client = browser()
    client.get(old, status=400)
    client.get(new, status=200)
    db.execute(update(AccountLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    client.get(new, status=400)
    client.get("/password/reset/not-a-real-token-at-all-xxxxxxxx", status=400)
    client.post("/password/reset/x", {"csrf_token": csrf_token(client), "new_password": NEW_PASSWORD}, status=400)


def test_forgot_password_is_rate_limited(browser, account, send):
    client = browser()
    for _ in range(3):
        _ask(client)
    limited = _ask(client, status=429)
    assert int(limited.headers["Retry-After"]) > 0
    assert len(send()) == 3


def test_forgot_password_needs_csrf_and_input(browser, account, send):
    client = browser()
    client.post("/password/forgot", {"subscription_id": "reset-co", "login": "rita"}, status=400)
    client.get("/password/forgot")
    client.post("/password/forgot", {"subscription_id": "", "login": "", "csrf_token": csrf_token(client)}, status=400)
    assert send() == []


def test_deactivated_accounts_get_no_link(browser, account, send, db):
    account.is_active = False
    db.commit()
    _ask(browser())
    assert send() == []


def test_owners_invite_a_user_who_chooses_a_password(browser, make_user, account, send, db):
    owner = make_user(account.company, "OWNER", username="ophelia", name="Ophelia Owner")
    client = browser()
    login(client, owner)
    token = csrf_token(client)
    missing = client.post(
        "/settings/users/invite", {"username": "ivan", "role": "AGENT", "csrf_token": token}, status=400
    )
    assert "Enter the address the invitation goes to." in missing.text
    client.post(
        "/settings/users/invite",
        {"username": "ivan", "name": "Ivan New", "email": "ivan@example.com", "role": "AGENT", "csrf_token": token},
        status=303,
    )
    [mail] = send()
    assert mail.recipients == ["ivan@example.com"]
    assert mail.subject == "Ophelia Owner invited you to Reset Co on OrbitFlow"
    assert "subscription ID reset-co and username ivan" in mail.text
    invited = browser()
    path = _link(mail)
    assert "Welcome to Reset Co" in invited.get(path).text
    invited.post(
        path,
        {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD, "csrf_token": csrf_token(invited)},
        status=303,
    )
    ivan = db.scalars(select(User).where(User.username == "ivan")).one()
    login(browser(), ivan, password=NEW_PASSWORD)
    actions = [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert {"user.create", "user.invite", "user.invite_accept"} <= set(actions)
    taken = client.post(
        "/settings/users/invite",
        {"username": "ivan", "email": "x@example.com", "role": "AGENT", "csrf_token": token},
        status=409,
    )
    assert "taken" in taken.text


def test_only_user_managers_invite(browser, make_user, account, send, db):
    for role in ("MANAGER", "AGENT", "VIEWER"):
        client = browser()
        login(client, make_user(account.company, role))
        client.get("/settings/users/invite", status=403)
        client.post(
            "/settings/users/invite",
            {"username": "x1", "email": "x1@example.com", "role": "VIEWER", "csrf_token": csrf_token(client)},
            status=403,
        )
    admin = browser()
    login(admin, make_user(account.company, "ADMIN"))
    refused = admin.post(
        "/settings/users/invite",
        {"username": "boss", "email": "b@example.com", "role": "OWNER", "csrf_token": csrf_token(admin)},
        status="*",
    )
    assert refused.status_int in (400, 403)
    assert db.scalars(select(User).where(User.username.in_(["x1", "boss"]))).all() == []
    assert send() == []


def test_a_reset_link_of_another_company_names_only_its_own_account(browser, account, make_company, make_user, send):
    other = make_user(
        make_company(name="Other", subscription_id="other-co"), "OWNER", username="rita", email="rita@other.example"
    )
    _ask(browser(), subscription_id="other-co", who="rita")
    [mail] = send()
    assert mail.recipients == ["rita@other.example"]
    page = browser().get(_link(mail))
    assert "other-co" in page.text and "reset-co" not in page.text
    assert other.id != account.id
    assert PASSWORD
