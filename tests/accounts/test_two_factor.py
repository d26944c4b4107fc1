"""Two-factor sign-in (TOTP): enrolment from Profile, the second step of a sign-in (a code or
a recovery code), replay and rate limits, turning it off, the company's requirement, an
owner's and a super admin's reset, and API keys (unaffected)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pyotp
import pytest
import segno
import webtest
from bs4 import BeautifulSoup
from cryptography.fernet import Fernet
from sqlalchemy import func, select, update

from accounts.helpers import api, audit_actions, audit_rows, bearer
from orbitflow.accounts.models import RecoveryCode, TwoFactorChallenge, TwoFactorSecret, User, UserSession
from orbitflow.accounts.signin_challenge import CHALLENGE_COOKIE
from orbitflow.app import make_app
from orbitflow.config import get_settings
from orbitflow.crypto import encryptor
from orbitflow.models.meta import utcnow
from orbitflow.security import SESSION_COOKIE
from orbitflow.tenants.models import Company
from support import PASSWORD, csrf_token, login


@dataclass
class Enrolled:
    secret: str
    codes: list[str]


def code_at(secret: str, steps_ahead: int = 0) -> str:
    """The app's code ``steps_ahead`` 30-second steps from now (one ahead is still accepted)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def forget_used_step(db, user: User) -> None:
    """Let the current step's code be used again, as if its 30 seconds had passed."""
    db.execute(update(TwoFactorSecret).where(TwoFactorSecret.user_id == user.id).values(last_used_step=None))
    db.commit()


def shown_secret(page) -> str:
    return re.search(r'id="two-factor-secret">([A-Z2-7 ]+)<', page.text).group(1).replace(" ", "")


def secret_of_shown(client, db, user: User) -> str:
    """The user's secret in clear, as the app holds it."""
    return encryptor(client.app.registry).decrypt(secret_of(db, user).secret_encrypted)


def shown_codes(page) -> list[str]:
    return re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", page.text)


def enrol(client, db=None, user: User | None = None) -> Enrolled:
    """Turn two-factor sign-in on from Profile, as the user would."""
    page = client.get("/settings/two-factor")
    page = page.forms["start-form"].submit(status=303).follow()
    secret = shown_secret(page)
    form = page.forms["confirm-form"]
    form["code"] = code_at(secret)
    done = form.submit(status=200)
    if db is not None and user is not None:
        forget_used_step(db, user)
    return Enrolled(secret, shown_codes(done))


def password_step(client, user: User, password: str = PASSWORD):
    response = login(client, user, password)
    assert response.location.endswith("/login/two-factor")
    return response


def code_step(client, code: str, status: int | str = 303):
    page = client.get("/login/two-factor")
    form = page.forms["two-factor-form"]
    form["code"] = code
    return form.submit(status=status)


def alert(page) -> str:
    return " ".join(re.findall(r'role="alert"[^>]*>([^<]*)<', page.text))


def live_sessions(db, user: User) -> int:
    db.expire_all()
    return db.scalar(
        select(func.count(UserSession.id)).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    )


def secret_of(db, user: User) -> TwoFactorSecret | None:
    db.expire_all()
    return db.scalars(select(TwoFactorSecret).where(TwoFactorSecret.user_id == user.id)).first()


def unused_codes(db, user: User) -> int:
    db.expire_all()
    return db.scalar(
        select(func.count(RecoveryCode.id)).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


# --- enrolment ---------------------------------------------------------------------------


def test_enrolment_shows_a_qr_code_and_the_secret_and_a_first_code_turns_it_on(browser, team, db, wsgi_app, testapp):
    agent = team["AGENT"]
    client = browser(agent)
    profile = client.get("/settings/profile")
    assert "Set up two-factor sign-in" in profile.text
    page = client.get("/settings/two-factor").forms["start-form"].submit(status=303).follow()
    assert page.headers["Cache-Control"] == "no-store"
    qr = page.html.select_one("#two-factor-qr svg")
    assert qr is not None and qr.select("path")  # drawn on the server, inline
    secret = shown_secret(page)
    assert len(secret) == 32
    # The QR code holds the otpauth URI of that very secret, for this account.
    uri = pyotp.TOTP(secret).provisioning_uri(name=f"{agent.username}@acme", issuer_name="OrbitFlow")
    expected = BeautifulSoup(segno.make(uri, error="m").svg_inline(border=2), "html.parser").select_one("path")
    assert qr.select_one("path")["d"] == expected["d"]
    assert uri.startswith("otpauth://totp/OrbitFlow:agent%40acme?secret=")
    # Stored encrypted with the application's key, never in clear.
    row = secret_of(db, agent)
    assert secret not in row.secret_encrypted and row.confirmed_at is None
    assert encryptor(wsgi_app.registry).decrypt(row.secret_encrypted) == secret
    assert audit_actions(db, prefix="auth.2fa") == []

    form = page.forms["confirm-form"]
    form["code"] = code_at(secret)
    done = form.submit(status=200)
    assert done.headers["Cache-Control"] == "no-store"
    codes = shown_codes(done)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert secret_of(db, agent).confirmed_at is not None
    hashes = db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == agent.id)).all()
    assert len(hashes) == 10
    assert not {code.replace("-", "") for code in codes} & set(hashes)
    assert all(code_hash.startswith("$argon2id$") for code_hash in hashes)
    entry = audit_rows(db, "auth.2fa_enrol")[0]
    assert (entry.actor_id, entry.target_id, entry.changes) == (agent.id, str(agent.id), {"recovery_codes": 10})
    # Shown once: the page now says it is on, with neither secret nor codes.
    page = client.get("/settings/two-factor")
    assert "two-factor-on" in page.text and secret not in page.text and codes[0] not in page.text
    assert "10</strong> of 10" in page.text
    assert "Manage two-factor sign-in" in client.get("/settings/profile").text


def test_each_profile_form_out_of_turn_is_refused_with_a_message_and_changes_nothing(browser, team, db, unchanged):
    agent = team["AGENT"]
    client = browser(agent)
    token = csrf_token(client)
    refusals = [
        ("confirm", {"code": "123456"}, "Start the set-up again: there is no new secret waiting for a code."),
        ("recovery-codes", {"code": "123456"}, "Two-factor sign-in is not on for this account."),
        ("disable", {"password": PASSWORD, "code": "123456"}, "Two-factor sign-in is not on for this account."),
    ]
    with unchanged():
        for path, fields, message in refusals:
            page = client.post(f"/settings/two-factor/{path}", {**fields, "csrf_token": token}, status=409)
            assert message in page.text, path
            assert page.headers["Cache-Control"] == "no-store"
    enrol(client, db, agent)
    with unchanged():
        page = client.post("/settings/two-factor/start", {"csrf_token": token}, status=409)
    assert "Two-factor sign-in is already on." in page.text
    assert audit_actions(db, prefix="auth.2fa") == ["auth.2fa_enrol"]


def test_me_says_whether_two_factor_sign_in_is_on(browser, team, db, testapp, another_client):
    agent = team["AGENT"]
    client = browser(agent)
    assert api(client, "GET", "/api/v1/me").json["two_factor_enabled"] is False
    page = client.get("/settings/two-factor").forms["start-form"].submit(status=303).follow()
    assert api(client, "GET", "/api/v1/me").json["two_factor_enabled"] is False  # not yet confirmed
    form = page.forms["confirm-form"]
    form["code"] = code_at(shown_secret(page))
    form.submit(status=200)
    assert api(client, "GET", "/api/v1/me").json["two_factor_enabled"] is True
    # An API key has no second factor of its own, whatever its creator has.
    admin = browser(team["ADMIN"])
    enrol(admin, db, team["ADMIN"])
    form = admin.get("/settings/api-keys").forms["apikey-form"]
    form["name"], form["role"] = "Reports", "VIEWER"
    raw = re.search(r"data-raw-key>([^<]+)<", form.submit(status=201).text).group(1)
    assert api(another_client(), "GET", "/api/v1/me", headers=bearer(raw)).json["two_factor_enabled"] is None


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("", "Enter the 6-digit code"),
        ("abcdef", "6 digits"),
        ("12345", "6 digits"),
        ("1234567", "6 digits"),
        ("١٢٣٤٥٦", "6 digits"),
        ("1" * 41, "too long"),
    ],
)
def test_a_malformed_first_code_is_refused_with_a_message_and_changes_nothing(browser, team, db, typed, words):
    client = browser(team["AGENT"])
    page = client.get("/settings/two-factor").forms["start-form"].submit(status=303).follow()
    form = page.forms["confirm-form"]
    form["code"] = typed
    refused = form.submit(status=400)
    assert words in refused.text
    assert secret_of(db, team["AGENT"]).confirmed_at is None
    assert unused_codes(db, team["AGENT"]) == 0
    assert audit_actions(db, prefix="auth.2fa") == []  # not a code: nothing was tried


def test_a_wrong_first_code_is_refused_and_audited(browser, team, db):
    client = browser(team["AGENT"])
    page = client.get("/settings/two-factor").forms["start-form"].submit(status=303).follow()
    secret = shown_secret(page)
    form = page.forms["confirm-form"]
    form["code"] = code_at(secret, steps_ahead=5)  # a real code, of another time
    refused = form.submit(status=400)
    assert "not right" in refused.text
    # The page shows the secret again: it stays out of caches too.
    assert shown_secret(refused) == secret and refused.headers["Cache-Control"] == "no-store"
    assert secret_of(db, team["AGENT"]).confirmed_at is None
    assert unused_codes(db, team["AGENT"]) == 0
    entry = audit_rows(db, "auth.2fa_failed")[0]
    assert entry.changes == {"step": "enrol", "kind": "totp"} and entry.target_id == str(team["AGENT"].id)


# --- the second step of a sign-in ----------------------------------------------------------


def test_after_the_password_the_second_step_is_not_a_session(browser, team, db, testapp):
    agent = team["AGENT"]
    enrol(browser(agent), db, agent)
    sessions_before = live_sessions(db, agent)
    response = password_step(testapp, agent)
    assert SESSION_COOKIE not in testapp.cookies
    assert CHALLENGE_COOKIE in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
    assert live_sessions(db, agent) == sessions_before
    db.expire_all()
    assert db.get(User, agent.id).last_login_at is None  # not signed in yet
    # Nothing but the second-step page takes it.
    assert testapp.get("/dashboard", status=302).location.startswith("http://localhost/login")
    api(testapp, "GET", "/api/v1/me", status=401)
    assert "auth.login" not in audit_actions(db)


def test_sign_in_with_a_code_from_the_app(browser, team, db, testapp):
    agent = team["AGENT"]
    enrolled = enrol(browser(agent), db, agent)
    password_step(testapp, agent)
    response = code_step(testapp, code_at(enrolled.secret))
    assert response.location == "http://localhost/dashboard"
    testapp.get("/dashboard", status=200)
    assert live_sessions(db, agent) == 2  # the enrolling browser's and this one
    db.expire_all()
    assert db.get(User, agent.id).last_login_at is not None
    login_entry = audit_rows(db, "auth.login")[-1]
    assert login_entry.changes == {"second_factor": "totp"} and login_entry.actor_id == agent.id
    # The challenge is over: its cookie is cleared, the row ended.
    assert db.scalar(select(TwoFactorChallenge.ended_at).where(TwoFactorChallenge.user_id == agent.id)) is not None
    assert testapp.get("/login/two-factor", status=302).location == "http://localhost/dashboard"


def test_next_is_kept_through_the_second_step(browser, team, db, testapp):
    agent = team["AGENT"]
    enrolled = enrol(browser(agent), db, agent)
    testapp.post(
        "/login",
        {
            "subscription_id": "acme",
            "username": agent.username,
            "password": PASSWORD,
            "next": "/settings/profile",
            "csrf_token": csrf_token(testapp),
        },
        status=303,
    )
    assert code_step(testapp, code_at(enrolled.secret)).location == "http://localhost/settings/profile"


def test_a_code_is_accepted_once(browser, team, db, testapp, another_client):
    agent = team["AGENT"]
    enrolled = enrol(browser(agent), db, agent)
    code = code_at(enrolled.secret)
    password_step(testapp, agent)
    code_step(testapp, code)
    # Someone who saw the code (and knows the password) is refused within the same step.
    other = another_client()
    password_step(other, agent)
    refused = code_step(other, code, status=400)
    assert "used already" in alert(refused)
    assert SESSION_COOKIE not in other.cookies
    assert audit_rows(db, "auth.2fa_failed")[-1].changes == {"step": "sign_in", "kind": "totp"}
    # An older code than the one used is refused too.
    previous = code_at(enrolled.secret, steps_ahead=-1)
    assert "used already" in alert(code_step(other, previous, status=400))


def test_a_recovery_code_signs_in_once(browser, team, db, testapp, another_client):
    agent = team["AGENT"]
    enrolled = enrol(browser(agent), db, agent)
    password_step(testapp, agent)
    response = code_step(testapp, enrolled.codes[3].upper())  # as typed from paper
    assert response.location == "http://localhost/dashboard"
    assert "9 left" in response.follow().text
    assert unused_codes(db, agent) == 9
    entry = audit_rows(db, "auth.2fa_recovery_used")[0]
    assert entry.changes == {"step": "sign_in", "recovery_codes_left": 9}
    assert audit_rows(db, "auth.login")[-1].changes == {"second_factor": "recovery"}
    other = another_client()
    password_step(other, agent)
    refused = code_step(other, enrolled.codes[3], status=400)
    assert "used already" in alert(refused)
    assert unused_codes(db, agent) == 9


@pytest.mark.parametrize(
    ("typed", "words"),
    [("", "Enter the 6-digit code"), ("12 34", "6 digits"), ("x" * 41, "too long"), ("!!!!!!", "not a code")],
)
def test_a_malformed_code_at_sign_in_is_refused_and_changes_nothing(browser, team, db, testapp, typed, words):
    agent = team["AGENT"]
    enrol(browser(agent), db, agent)
    password_step(testapp, agent)
    refused = code_step(testapp, typed, status=400)
    assert words in alert(refused)
    assert SESSION_COOKIE not in testapp.cookies
    assert audit_actions(db, prefix="auth.2fa_failed") == []
    # The step is still open.
    testapp.get("/login/two-factor", status=200)


def test_wrong_codes_are_limited_like_passwords_and_audited(browser, team, db, testapp):
    agent = team["AGENT"]
    enrolled = enrol(browser(agent), db, agent)
    password_step(testapp, agent)
    # The password and the codes after it share the account's budget of attempts (5):
    # giving the password again does not buy more guesses.
    for _ in range(3):
        assert "not right" in alert(code_step(testapp, code_at(enrolled.secret, steps_ahead=9), status=400))
    locked = code_step(testapp, code_at(enrolled.secret, steps_ahead=9), status=429)
    assert int(locked.headers["Retry-After"]) > 0
    assert "Too many sign-in attempts" in alert(locked)
    assert len(audit_rows(db, "auth.2fa_failed")) == 4
    assert "auth.lockout" in audit_actions(db)
    # This sign-in is over, even with the right code; the account is locked for this address.
    assert testapp.get("/login/two-factor", status=303).location == "http://localhost/login"
    assert login(testapp, agent, status=429)
    assert SESSION_COOKIE not in testapp.cookies


def test_the_second_step_expires(browser, team, db, testapp):
    agent = team["AGENT"]
    enrolled = enrol(browser(agent), db, agent)
    password_step(testapp, agent)
    page = testapp.get("/login/two-factor")
    db.execute(update(TwoFactorChallenge).values(expires_at=utcnow()))
    db.commit()
    form = page.forms["two-factor-form"]
    form["code"] = code_at(enrolled.secret)
    response = form.submit(status=303)
    assert response.location == "http://localhost/login"
    assert "took too long" in response.follow().text
    assert SESSION_COOKIE not in testapp.cookies
    assert secret_of(db, agent).last_used_step is None  # the code was not even looked at


def test_the_second_step_belongs_to_the_browser_that_gave_the_password(browser, team, db, testapp, another_client):
    agent = team["AGENT"]
    enrolled = enrol(browser(agent), db, agent)
    password_step(testapp, agent)
    stranger = another_client()
    response = stranger.post(
        "/login/two-factor", {"code": code_at(enrolled.secret), "csrf_token": csrf_token(stranger)}, status=303
    )
    assert response.location == "http://localhost/login"
    assert SESSION_COOKIE not in stranger.cookies
    # The rightful browser goes on.
    assert code_step(testapp, code_at(enrolled.secret)).location == "http://localhost/dashboard"


def test_a_user_deactivated_during_the_second_step_is_not_signed_in(browser, team, db, testapp):
    agent = team["AGENT"]
    enrolled = enrol(browser(agent), db, agent)
    password_step(testapp, agent)
    db.execute(update(User).where(User.id == agent.id).values(is_active=False))
    db.commit()
    response = testapp.post(
        "/login/two-factor", {"code": code_at(enrolled.secret), "csrf_token": csrf_token(testapp)}, status=303
    )
    assert response.location == "http://localhost/login"
    assert SESSION_COOKIE not in testapp.cookies
    assert secret_of(db, agent).last_used_step is None


def test_a_new_key_first_in_encryption_key_takes_over_the_secret_at_its_next_use(browser, team, db, backend, wsgi_app):
    agent = team["AGENT"]
    enrolled = enrol(browser(agent), db, agent)
    old_key = get_settings(wsgi_app.registry).encryption_keys[0]
    new_key = Fernet.generate_key().decode()
    rotated_app = make_app(backend.ini(), environ={"ENCRYPTION_KEY": f"{new_key},{old_key}"}, engine=backend.engine)
    client = webtest.TestApp(rotated_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.7"})
    stored = secret_of(db, agent).secret_encrypted
    password_step(client, agent)
    assert code_step(client, code_at(enrolled.secret)).location == "http://localhost/dashboard"
    moved = secret_of(db, agent).secret_encrypted
    assert moved != stored
    assert Fernet(new_key).decrypt(moved.encode()).decode() == enrolled.secret


def test_a_secret_the_keys_cannot_read_answers_with_a_message_and_recovery_codes_still_work(browser, team, db, testapp):
    agent = team["AGENT"]
    enrolled = enrol(browser(agent), db, agent)
    # As after ENCRYPTION_KEY lost the key the secret was encrypted with.
    lost = Fernet(Fernet.generate_key()).encrypt(enrolled.secret.encode()).decode()
    db.execute(update(TwoFactorSecret).where(TwoFactorSecret.user_id == agent.id).values(secret_encrypted=lost))
    db.commit()
    password_step(testapp, agent)
    refused = code_step(testapp, code_at(enrolled.secret), status=503)
    assert "Use one of your recovery codes" in alert(refused)
    assert SESSION_COOKIE not in testapp.cookies
    assert code_step(testapp, enrolled.codes[0]).location == "http://localhost/dashboard"


def test_a_new_sign_in_ends_the_earlier_second_step(browser, team, db, testapp, another_client):
    agent = team["AGENT"]
    enrolled = enrol(browser(agent), db, agent)
    password_step(testapp, agent)
    password_step(another_client(), agent)
    assert testapp.get("/login/two-factor", status=303).location == "http://localhost/login"
    assert secret_of(db, agent).last_used_step is None
    assert enrolled.secret


# --- managing it ---------------------------------------------------------------------------


def test_new_recovery_codes_need_a_code_and_replace_the_old_ones(browser, team, db, testapp):
    agent = team["AGENT"]
    client = browser(agent)
    enrolled = enrol(client, db, agent)
    page = client.get("/settings/two-factor")
    form = page.forms["regenerate-form"]
    form["code"] = "000000" if code_at(enrolled.secret) != "000000" else "111111"
    assert "not right" in form.submit(status=400).text
    assert audit_actions(db, prefix="auth.2fa_recovery") == []
    form = client.get("/settings/two-factor").forms["regenerate-form"]
    form["code"] = code_at(enrolled.secret)
    fresh_codes = shown_codes(form.submit(status=200))
    assert len(fresh_codes) == 10 and not set(fresh_codes) & set(enrolled.codes)
    assert unused_codes(db, agent) == 10
    assert audit_rows(db, "auth.2fa_recovery_regenerate")[0].changes == {"recovery_codes": 10}
    password_step(testapp, agent)
    assert "not right" in alert(code_step(testapp, enrolled.codes[0], status=400))
    assert code_step(testapp, fresh_codes[0]).location == "http://localhost/dashboard"


def test_turning_it_off_needs_the_password_and_a_code(browser, team, db, testapp):
    agent = team["AGENT"]
    client = browser(agent)
    enrolled = enrol(client, db, agent)

    def submit(password: str, code: str, status: int):
        form = client.get("/settings/two-factor").forms["disable-form"]
        form["password"], form["code"] = password, code
        return form.submit(status=status)

    assert "password is not correct" in submit("Wrong-password-99", code_at(enrolled.secret), 400).text
    assert "6 digits" in submit(PASSWORD, "12345", 400).text
    assert "not right" in submit(PASSWORD, code_at(enrolled.secret, steps_ahead=7), 400).text
    assert secret_of(db, agent) is not None and unused_codes(db, agent) == 10
    assert audit_actions(db, prefix="auth.2fa_disable") == []
    submit(PASSWORD, code_at(enrolled.secret), 303)
    assert secret_of(db, agent) is None and unused_codes(db, agent) == 0
    assert audit_rows(db, "auth.2fa_disable")[0].actor_id == agent.id
    # The password alone signs in again.
    assert login(testapp, agent).location == "http://localhost/dashboard"


# --- the company's requirement -----------------------------------------------------------


def require(client, on: bool = True, status: int = 303):
    form = client.get("/settings/security").forms["two-factor-policy-form"]
    form["required"] = on
    return form.submit(status=status)


def test_an_owner_requires_it_and_users_without_it_enrol_at_next_sign_in(browser, team, db, testapp, another_client):
    owner = browser(team["OWNER"])
    # Only an owner who has it may require it of everyone.
    refused = require(owner, status=400)
    assert "your own account first" in refused.text
    db.expire_all()
    assert db.get(Company, team.company.id).require_two_factor is False
    enrol(owner, db, team["OWNER"])
    require(owner)
    db.expire_all()
    assert db.get(Company, team.company.id).require_two_factor is True
    entry = audit_rows(db, "auth.2fa_require_on")[0]
    assert (entry.actor_id, entry.target_type, entry.target_id) == (team["OWNER"].id, "company", str(team.company.id))

    agent = team["AGENT"]
    response = login(testapp, agent)
    assert response.location == "http://localhost/settings/two-factor"
    assert "requires two-factor sign-in" in response.follow().text
    # Nothing else until enrolled: pages lead back, the API refuses.
    assert testapp.get("/dashboard", status=302).location == "http://localhost/settings/two-factor"
    assert testapp.get("/leads", status=302).location == "http://localhost/settings/two-factor"
    refused = api(testapp, "GET", "/api/v1/leads", status=403)
    assert "requires two-factor sign-in" in refused.json["error"]["message"]
    api(testapp, "GET", "/api/v1/me", status=200)
    enrol(testapp, db, agent)
    testapp.get("/dashboard", status=200)
    # Required: it cannot be turned off.
    assert "cannot be turned off" in testapp.get("/settings/two-factor").text
    refused = testapp.post(
        "/settings/two-factor/disable",
        {"password": PASSWORD, "code": code_at(secret_of_shown(testapp, db, agent)), "csrf_token": csrf_token(testapp)},
        status=403,
    )
    assert "requires two-factor sign-in" in refused.text
    assert secret_of(db, agent).confirmed_at is not None
    assert audit_actions(db, prefix="auth.2fa_disable") == []

    # Someone still waiting to enrol when the requirement is lifted is free at once.
    waiting = another_client()
    login(waiting, team["VIEWER"])
    assert waiting.get("/dashboard", status=302).location == "http://localhost/settings/two-factor"
    require(owner, on=False)
    assert audit_actions(db, prefix="auth.2fa_require") == ["auth.2fa_require_on", "auth.2fa_require_off"]
    waiting.get("/dashboard", status=200)


def test_an_api_key_of_a_user_without_the_required_second_factor_still_works(
    browser, team, db, testapp, another_client
):
    admin = browser(team["ADMIN"])
    form = admin.get("/settings/api-keys").forms["apikey-form"]
    form["name"], form["role"] = "Nightly sync", "ADMIN"
    raw = re.search(r"data-raw-key>([^<]+)<", form.submit(status=201).text).group(1)
    owner = browser(team["OWNER"])
    enrol(owner, db, team["OWNER"])
    require(owner)
    # The admin has no second factor: signing in leads to the enrolment...
    assert login(testapp, team["ADMIN"]).location == "http://localhost/settings/two-factor"
    # ...but their key acts as before, on every API route.
    key_client = another_client()
    me = api(key_client, "GET", "/api/v1/me", headers=bearer(raw), status=200).json
    assert (me["role"], me["api_key"]["created_by"]) == ("ADMIN", team["ADMIN"].id)
    api(key_client, "GET", "/api/v1/leads", headers=bearer(raw), status=200)
    created = api(key_client, "POST", "/api/v1/leads", {"name": "From the key"}, headers=bearer(raw), status=201)
    assert created.json["name"] == "From the key"


@pytest.mark.parametrize("role", ["ADMIN", "MANAGER"])
def test_admins_and_managers_cannot_require_it_or_reset_it(browser, team, db, role):
    client = browser(team[role])
    client.get("/settings/security", status=403)
    client.post("/settings/security", {"required": "on", "csrf_token": csrf_token(client)}, status=403)
    target = team["AGENT"]
    enrol(browser(target), db, target)
    client.post(f"/settings/users/{target.id}/two-factor/reset", {"csrf_token": csrf_token(client)}, status=403)
    db.expire_all()
    assert db.get(Company, team.company.id).require_two_factor is False
    assert secret_of(db, target) is not None
    assert audit_actions(db, prefix="auth.2fa_re") == []


# --- resets ---------------------------------------------------------------------------------


def test_an_owner_resets_a_users_second_factor(browser, team, db, testapp):
    agent = team["AGENT"]
    enrol(browser(agent), db, agent)
    owner = browser(team["OWNER"])
    page = owner.get(f"/settings/users/{agent.id}")
    response = page.forms["two-factor-reset-form"].submit(status=303)
    assert "is reset" in response.follow().text
    assert secret_of(db, agent) is None and unused_codes(db, agent) == 0
    entry = audit_rows(db, "auth.2fa_reset")[0]
    assert (entry.actor_id, entry.target_id) == (team["OWNER"].id, str(agent.id))
    assert login(testapp, agent).location == "http://localhost/dashboard"
    # Nothing to reset any more.
    owner.post(f"/settings/users/{agent.id}/two-factor/reset", {"csrf_token": csrf_token(owner)}, status=409)


def test_an_owner_resets_no_second_factor_of_their_own(browser, team, db):
    owner_user = team["OWNER"]
    owner = browser(owner_user)
    enrol(owner, db, owner_user)
    refused = owner.post(
        f"/settings/users/{owner_user.id}/two-factor/reset", {"csrf_token": csrf_token(owner)}, status=400
    )
    assert "Settings → Profile" in refused.text
    assert secret_of(db, owner_user).confirmed_at is not None
    assert audit_actions(db, prefix="auth.2fa_reset") == []


def test_an_owner_cannot_reset_another_companys_user(browser, team, db, make_company, make_user):
    other_company = make_company(name="Other Co", subscription_id="other")
    stranger = make_user(other_company, "AGENT", username="stranger")
    enrol(browser(stranger), db, stranger)
    owner = browser(team["OWNER"])
    owner.post(f"/settings/users/{stranger.id}/two-factor/reset", {"csrf_token": csrf_token(owner)}, status=404)
    owner.post(f"/settings/users/{10**25}/two-factor/reset", {"csrf_token": csrf_token(owner)}, status=404)
    assert secret_of(db, stranger).confirmed_at is not None and unused_codes(db, stranger) == 10
    assert audit_actions(db, prefix="auth.2fa_reset") == []


def test_a_super_admin_resets_any_users_and_requires_it_on_the_platform(
    browser, team, db, platform, make_user, testapp
):
    admin = make_user(platform, "SUPER_ADMIN", username="root")
    agent = team["AGENT"]
    enrol(browser(agent), db, agent)
    client = browser(admin)
    page = client.get(f"/admin/companies/{team.company.id}")
    reset_forms = [form for form in page.forms.values() if "two-factor/reset" in (form.action or "")]
    assert len(reset_forms) == 1
    reset_forms[0].submit(status=303)
    assert secret_of(db, agent) is None
    entry = audit_rows(db, "auth.2fa_reset")[0]
    assert (entry.actor_id, entry.company_id, entry.target_id) == (admin.id, team.company.id, str(agent.id))
    # A user of another company than the URL's is not found.
    client.post(
        f"/admin/companies/{platform.id}/users/{team['OWNER'].id}/two-factor/reset",
        {"csrf_token": csrf_token(client)},
        status=404,
    )

    enrol(client, db, admin)
    require(client)
    db.expire_all()
    assert db.get(Company, platform.id).require_two_factor is True
    assert db.get(Company, team.company.id).require_two_factor is False
    second = make_user(platform, "SUPER_ADMIN", username="root2")
    assert login(testapp, second).location == "http://localhost/settings/two-factor"


# --- CSRF -----------------------------------------------------------------------------------

FORMS = [
    "/settings/two-factor/start",
    "/settings/two-factor/confirm",
    "/settings/two-factor/recovery-codes",
    "/settings/two-factor/disable",
    "/settings/security",
    "/settings/users/{agent}/two-factor/reset",
]


@pytest.mark.parametrize("path", FORMS)
def test_every_two_factor_form_needs_the_csrf_token(browser, team, db, path):
    agent = team["AGENT"]
    enrol(browser(agent), db, agent)
    owner = browser(team["OWNER"])
    enrolled = enrol(owner, db, team["OWNER"])
    # What would work with the token: the owner's own password and code.
    body = {"code": code_at(enrolled.secret), "password": PASSWORD, "required": "on"}
    refused = owner.post(path.format(agent=agent.id), body, status=400)
    assert "This form has expired" in refused.text
    for user in (agent, team["OWNER"]):
        assert secret_of(db, user).confirmed_at is not None and unused_codes(db, user) == 10
    assert secret_of(db, team["OWNER"]).last_used_step is None
    db.expire_all()
    assert db.get(Company, team.company.id).require_two_factor is False
    assert audit_actions(db, prefix="auth.2fa") == ["auth.2fa_enrol", "auth.2fa_enrol"]


def test_the_second_step_needs_the_csrf_token(browser, team, db, testapp):
    agent = team["AGENT"]
    enrolled = enrol(browser(agent), db, agent)
    password_step(testapp, agent)
    testapp.post("/login/two-factor", {"code": code_at(enrolled.secret)}, status=400)
    assert SESSION_COOKIE not in testapp.cookies
    assert secret_of(db, agent).last_used_step is None
