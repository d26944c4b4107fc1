"""Session cookies: time-outs, session versions, "log out everywhere", password changes."""

from __future__ import annotations

import pytest

from accounts.helpers import audit_actions, fresh, session_cookie, session_payload
from orbitflow.security import SESSION_COOKIE
from support import PASSWORD, csrf_token

NEW_PASSWORD = "Fresh-Orbit-2031"
IDLE = 120 * 60  # the default of orbitflow.session_idle_minutes
ABSOLUTE = 24 * 3600  # the default of orbitflow.session_max_hours


def _with_cookie(client, backend, payload):
    client.set_cookie(SESSION_COOKIE, session_cookie(backend, payload))
    return client


def test_a_crafted_fresh_cookie_is_accepted(testapp, backend, team):
    _with_cookie(testapp, backend, session_payload(team["AGENT"]))
    assert testapp.get("/api/v1/me").json["username"] == "agent"


@pytest.mark.parametrize(
    "ages",
    [
        {"seen_ago": IDLE + 5, "issued_ago": IDLE + 5},  # idle too long
        {"seen_ago": 10, "issued_ago": ABSOLUTE + 5},  # active, but older than the absolute limit
    ],
    ids=["idle", "absolute"],
)
def test_expired_sessions_are_refused(testapp, backend, team, ages):
    _with_cookie(testapp, backend, session_payload(team["AGENT"], **ages))
    testapp.get("/api/v1/me", status=401)
    assert "/login" in testapp.get("/dashboard", status=302).location


def test_a_session_just_inside_the_limits_is_accepted_and_slides(testapp, backend, team):
    _with_cookie(testapp, backend, session_payload(team["AGENT"], seen_ago=IDLE - 30, issued_ago=ABSOLUTE - 30))
    response = testapp.get("/api/v1/me", status=200)
    # The idle clock restarts: the response renews the cookie, keeping the issue time.
    assert any(value.startswith(f"{SESSION_COOKIE}=") for name, value in response.headerlist if name == "Set-Cookie")


def test_tampered_or_foreign_cookies_are_ignored(testapp, backend, team):
    good = session_cookie(backend, session_payload(team["OWNER"]))
    testapp.set_cookie(SESSION_COOKIE, good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"))
    testapp.get("/api/v1/me", status=401)
    # From the future: not a cookie this server wrote.
    _with_cookie(testapp, backend, session_payload(team["OWNER"], seen_ago=-3600, issued_ago=-3600))
    testapp.get("/api/v1/me", status=401)
    # An old session version (the password changed since).
    _with_cookie(testapp, backend, {**session_payload(team["OWNER"]), "v": team["OWNER"].session_version - 1})
    testapp.get("/api/v1/me", status=401)


def test_tiny_idle_limit_from_settings(backend, db, team):
    import webtest

    from orbitflow.app import make_app

    app = make_app(backend.ini(**{"orbitflow.session_idle_minutes": "1"}), environ={}, engine=backend.engine)
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
    _with_cookie(client, backend, session_payload(team["AGENT"], seen_ago=30, issued_ago=30))
    client.get("/api/v1/me", status=200)
    _with_cookie(client, backend, session_payload(team["AGENT"], seen_ago=61, issued_ago=61))
    client.get("/api/v1/me", status=401)


def test_logout_wins_over_the_sliding_renewal(testapp, backend, team):
    """A cookie due for renewal must not be renewed on the response that signs out."""
    token = csrf_token(testapp)  # as a visitor, before signing in
    _with_cookie(testapp, backend, session_payload(team["OWNER"], seen_ago=600, issued_ago=600))
    response = testapp.post("/logout", {"csrf_token": token}, status=303)
    session_cookies = [v for n, v in response.headerlist if n == "Set-Cookie" and v.startswith(f"{SESSION_COOKIE}=")]
    assert len(session_cookies) == 1 and "Max-Age=0" in session_cookies[0]
    testapp.get("/dashboard", status=302)


def test_password_change_ends_other_sessions_but_keeps_this_one(browser, team, db):
    agent = team["AGENT"]
    version = agent.session_version
    laptop, phone = browser(agent), browser(agent)
    form = laptop.get("/settings/password").forms["password-form"]
    form["current_password"] = PASSWORD
    form["new_password"] = form["confirm_password"] = NEW_PASSWORD
    response = form.submit(status=303)
    assert response.location.endswith("/dashboard")
    assert "Password changed" in response.follow().text
    laptop.get("/dashboard", status=200)
    phone.get("/dashboard", status=302)
    phone.get("/api/v1/me", status=401)
    assert audit_actions(db, team.company.id, "auth.password") == ["auth.password_change"]
    user = fresh(db, agent)
    assert user.session_version == version + 1 and not user.must_change_password


def test_password_change_through_the_api_keeps_the_session(browser, team):
    from accounts.helpers import api

    laptop, phone = browser(team["VIEWER"]), browser(team["VIEWER"])
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert api(laptop, "POST", "/api/v1/me/password", body, status=200).json["username"] == "viewer"
    laptop.get("/api/v1/me", status=200)
    phone.get("/api/v1/me", status=401)


def test_log_out_everywhere(browser, team, db):
    owner = team["OWNER"]
    laptop, phone = browser(owner), browser(owner)
    response = laptop.get("/settings/profile").forms["logout-everywhere-form"].submit(status=303)
    assert response.location.endswith("/login")
    assert "signed out on every device" in response.follow().text
    laptop.get("/dashboard", status=302)
    phone.get("/dashboard", status=302)
    assert "auth.logout_all" in audit_actions(db, team.company.id)
    # Signing in again works.
    from support import login

    login(phone, owner)
    phone.get("/dashboard", status=200)


def test_log_out_everywhere_needs_csrf(browser, team, db):
    version = team["OWNER"].session_version
    laptop = browser(team["OWNER"])
    laptop.post("/settings/sessions/end-all", status=400)
    laptop.get("/dashboard", status=200)
    assert fresh(db, team["OWNER"]).session_version == version


def test_impersonation_cookie_ends_with_the_super_admins_sessions(testapp, backend, db, platform, make_user, team):
    admin = make_user(platform, "SUPER_ADMIN", username="root")
    payload = session_payload(team["AGENT"], imp=admin.id, iv=admin.session_version)
    _with_cookie(testapp, backend, payload)
    me = testapp.get("/api/v1/me").json
    assert me["username"] == "agent" and me["impersonated_by"] == admin.id
    admin.session_version += 1  # the super admin logged out everywhere
    db.commit()
    testapp.get("/api/v1/me", status=401)
    # A company user cannot be the impersonator.
    _with_cookie(testapp, backend, session_payload(team["AGENT"], imp=team["OWNER"].id, iv=1))
    testapp.get("/api/v1/me", status=401)


def test_deactivated_user_is_signed_out_at_once(browser, team, db):
    agent_browser = browser(team["AGENT"])
    user = fresh(db, team["AGENT"])
    user.is_active = False
    db.commit()
    agent_browser.get("/dashboard", status=302)
