"""Server-side sessions: sign-out that ends a copied cookie, time-outs, "log out everywhere",
password changes, deactivation, impersonation, and the sessions on the profile page."""

from __future__ import annotations

from datetime import timedelta

import pytest
import webtest
from sqlalchemy import event, select

from accounts.helpers import api, audit_actions, audit_rows, fresh, new_session
from orbitflow.accounts.models import UserSession
from orbitflow.models.meta import utcnow
from orbitflow.security import SESSION_COOKIE
from support import PASSWORD, csrf_token, login

NEW_PASSWORD = "Fresh-Orbit-2031"
IDLE = 120 * 60  # the default of orbitflow.session_idle_minutes
ABSOLUTE = 24 * 3600  # the default of orbitflow.session_max_hours
CHROME_ON_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/126.0.0.0 Mobile Safari/537.36"
)


def _rows(db, **where) -> list[UserSession]:
    db.expire_all()
    db.rollback()
    query = select(UserSession).order_by(UserSession.id)
    for name, value in where.items():
        query = query.where(getattr(UserSession, name) == value)
    return list(db.scalars(query))


def _signed_out(client) -> None:
    """What a user sees: pages send them to the login form, the API answers 401."""
    assert "/login" in client.get("/dashboard", status=302).location
    assert client.get("/api/v1/me", status=401).json["error"]["code"] == "unauthorized"


def _replay(another_client, cookie: str):
    """A second browser holding a copy of ``cookie``."""
    thief = another_client()
    thief.set_cookie(SESSION_COOKIE, cookie)
    return thief


def test_a_copied_cookie_is_signed_out_after_logout(testapp, another_client, team, db):
    login(testapp, team["AGENT"])
    copied = testapp.cookies[SESSION_COOKIE]
    assert _replay(another_client, copied).get("/api/v1/me").json["username"] == "agent"
    response = testapp.post("/logout", {"csrf_token": csrf_token(testapp)}, status=303)
    session_cookies = [v for n, v in response.headerlist if n == "Set-Cookie" and v.startswith(f"{SESSION_COOKIE}=")]
    assert len(session_cookies) == 1 and "Max-Age=0" in session_cookies[0]
    _signed_out(testapp)
    _signed_out(_replay(another_client, copied))
    (row,) = _rows(db, user_id=team["AGENT"].id)
    assert row.ended_at is not None and row.end_reason == "logout"
    assert audit_actions(db, team.company.id, "auth.log") == ["auth.login", "auth.logout"]


def test_the_cookie_holds_only_a_signed_random_token(testapp, team, db):
    login(testapp, team["OWNER"])
    cookie = testapp.cookies[SESSION_COOKIE]
    (row,) = _rows(db)
    # The row keeps the token's hash only: the table cannot be turned back into cookies.
    assert row.token_hash not in cookie and len(row.token_hash) == 64
    assert (row.user_id, row.company_id, row.impersonator_id) == (team["OWNER"].id, team.company.id, None)
    assert row.ip == "10.0.0.1" and row.created_at == row.last_seen_at


@pytest.mark.parametrize(
    "ages",
    [
        {"seen_ago": IDLE + 5, "created_ago": IDLE + 5},  # idle too long
        {"seen_ago": 10, "created_ago": ABSOLUTE + 5},  # active, but older than the absolute limit
    ],
    ids=["idle", "absolute"],
)
def test_expired_sessions_are_refused(testapp, team, db, ages):
    row = new_session(testapp, db, team["AGENT"])
    _age(db, row, **ages)
    _signed_out(testapp)


def _age(db, row, *, seen_ago: int, created_ago: int) -> None:
    now = utcnow()
    row = db.get(UserSession, row.id)
    row.last_seen_at = now - timedelta(seconds=seen_ago)
    row.created_at = now - timedelta(seconds=created_ago)
    db.commit()


def test_a_session_just_inside_the_limits_is_accepted_and_slides(testapp, team, db):
    row = new_session(testapp, db, team["AGENT"])
    _age(db, row, seen_ago=IDLE - 30, created_ago=ABSOLUTE - 30)
    response = testapp.get("/api/v1/me", status=200)
    assert SESSION_COOKIE not in response.headers.get("Set-Cookie", "")  # nothing to renew in the browser
    seen = fresh(db, row).last_seen_at
    assert (utcnow() - seen).total_seconds() < 5  # the idle clock restarted, on the server
    # Seen 30 s ago: not written again before a minute has passed.
    _age(db, row, seen_ago=30, created_ago=100)
    before = fresh(db, row).last_seen_at
    testapp.get("/api/v1/me", status=200)
    assert fresh(db, row).last_seen_at == before


def test_each_request_reads_the_session_once_and_writes_last_seen_at_most_once_a_minute(testapp, backend, team, db):
    row = new_session(testapp, db, team["AGENT"])
    statements: list[str] = []

    def heard(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()).lower())

    event.listen(backend.engine, "before_cursor_execute", heard)
    try:
        testapp.get("/api/v1/me", status=200)
        fresh_request = list(statements)
        _age(db, row, seen_ago=90, created_ago=90)
        statements.clear()
        testapp.get("/api/v1/me", status=200)
        due_request = list(statements)
    finally:
        event.remove(backend.engine, "before_cursor_execute", heard)
    reads = [s for s in fresh_request if "from user_sessions" in s]
    assert len(reads) == 1 and "join users" in reads[0]
    # The identity costs no other query: /me answers from what that read loaded.
    # Beside the session read, /api/v1/me reads only what it reports: two-factor sign-in.
    selects = [s for s in fresh_request if s.startswith("select")]
    assert selects[: len(reads)] == reads, fresh_request
    assert [s for s in selects[len(reads) :] if "from two_factor_secrets" not in s] == [], fresh_request
    assert len(selects) <= len(reads) + 1, fresh_request
    assert not [s for s in fresh_request if s.startswith("update")]
    assert len([s for s in due_request if s.startswith("update user_sessions set last_seen_at")]) == 1


def test_tampered_foreign_or_unknown_cookies_are_ignored(testapp, another_client, backend, team, db):
    new_session(testapp, db, team["OWNER"])
    good = testapp.cookies[SESSION_COOKIE]
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    _signed_out(_replay(another_client, tampered))
    _signed_out(_replay(another_client, "not-a-cookie"))
    # Signed with another secret (another installation's cookie).
    from orbitflow.accounts.sessions import issue_session
    from orbitflow.config import load_settings

    other = load_settings(backend.ini(**{"orbitflow.auth_secret": "another-secret-" + "x" * 32}), environ={})
    foreign = issue_session(db, other, team["OWNER"]).cookie_value
    db.commit()
    _signed_out(_replay(another_client, foreign))


def test_tiny_idle_limit_from_settings(backend, db, team):
    from orbitflow.app import make_app

    app = make_app(backend.ini(**{"orbitflow.session_idle_minutes": "1"}), environ={}, engine=backend.engine)
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
    row = new_session(client, db, team["AGENT"])
    _age(db, row, seen_ago=30, created_ago=30)
    client.get("/api/v1/me", status=200)
    _age(db, row, seen_ago=61, created_ago=61)
    client.get("/api/v1/me", status=401)


def test_password_change_ends_other_sessions_but_keeps_this_one(browser, team, db):
    agent = team["AGENT"]
    laptop, phone = browser(agent), browser(agent)
    form = laptop.get("/settings/password").forms["password-form"]
    form["current_password"] = PASSWORD
    form["new_password"] = form["confirm_password"] = NEW_PASSWORD
    response = form.submit(status=303)
    assert response.location.endswith("/dashboard")
    assert "Password changed" in response.follow().text
    laptop.get("/dashboard", status=200)
    _signed_out(phone)
    assert [row.end_reason for row in _rows(db, user_id=agent.id)] == [None, "password_change"]
    assert audit_rows(db, "auth.password_change")[0].changes == {"sessions_ended": 1}
    assert not fresh(db, agent).must_change_password


def test_password_change_through_the_api_keeps_the_session(browser, team):
    laptop, phone = browser(team["VIEWER"]), browser(team["VIEWER"])
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert api(laptop, "POST", "/api/v1/me/password", body, status=200).json["username"] == "viewer"
    laptop.get("/api/v1/me", status=200)
    _signed_out(phone)


def test_a_temporary_password_from_an_admin_ends_every_session(browser, team, db):
    viewer = browser(team["VIEWER"])
    admin = browser(team["ADMIN"])
    form = admin.get(f"/settings/users/{team['VIEWER'].id}").forms["reset-form"]
    form.submit(status=200)
    _signed_out(viewer)
    assert [row.end_reason for row in _rows(db, user_id=team["VIEWER"].id)] == ["password_reset"]


def test_log_out_everywhere(browser, another_client, team, db):
    owner = team["OWNER"]
    laptop, phone = browser(owner), browser(owner)
    copied = phone.cookies[SESSION_COOKIE]
    response = laptop.get("/settings/profile").forms["logout-everywhere-form"].submit(status=303)
    assert response.location.endswith("/login")
    assert "signed out on every device" in response.follow().text
    _signed_out(laptop)
    _signed_out(phone)
    _signed_out(_replay(another_client, copied))
    assert {row.end_reason for row in _rows(db, user_id=owner.id)} == {"logout_all"}
    assert audit_rows(db, "auth.logout_all")[0].changes == {"sessions_ended": 2}
    # Signing in again works.
    login(phone, owner)
    phone.get("/dashboard", status=200)


def test_log_out_everywhere_needs_csrf(browser, team, db):
    laptop = browser(team["OWNER"])
    laptop.post("/settings/sessions/end-all", status=400)
    laptop.get("/dashboard", status=200)
    assert [row.ended_at for row in _rows(db)] == [None]
    assert audit_actions(db, team.company.id, "auth.") == []


def test_deactivated_user_is_signed_out_at_once(browser, another_client, team, db, unchanged):
    agent = browser(team["AGENT"])
    copied = agent.cookies[SESSION_COOKIE]
    assert agent.get("/leads", status=200)
    api(browser(team["OWNER"]), "DELETE", f"/api/v1/users/{team['AGENT'].id}", status=204)
    _signed_out(agent)
    # Their next page is the sign-in form, which brings them back where they were going.
    bounced = agent.get("/leads", status=302)
    assert bounced.location == "http://localhost/login?next=%2Fleads"
    assert "login-form" in bounced.follow(status=200).forms
    # A form they still had open changes nothing, and signing in again is refused.
    with unchanged():
        refused = agent.post("/leads/new", {"csrf_token": csrf_token(agent), "name": "Late lead"}, status=302)
        assert refused.location == "http://localhost/login?next=%2Fleads%2Fnew"
    page = login(another_client(), team["AGENT"], status=400)
    assert "Wrong subscription ID, username or password." in page.html.find(class_="flash").get_text()
    assert [row.end_reason for row in _rows(db, user_id=team["AGENT"].id)] == ["deactivated"]
    # Reactivated, the old cookie stays ended: the user signs in anew.
    api(browser(team["OWNER"]), "PATCH", f"/api/v1/users/{team['AGENT'].id}", {"is_active": True}, status=200)
    _signed_out(_replay(another_client, copied))


def test_a_user_deactivated_in_the_database_is_refused_too(browser, team, db):
    agent = browser(team["AGENT"])
    user = fresh(db, team["AGENT"])
    user.is_active = False
    db.commit()
    _signed_out(agent)


# Profile → Sessions


def test_profile_lists_my_active_sessions_with_this_one_marked(browser, another_client, team, db):
    owner = team["OWNER"]
    laptop = browser(owner)
    phone = another_client()
    phone_row = new_session(phone, db, owner, ip="203.0.113.9", user_agent=CHROME_ON_ANDROID)
    ended = new_session(another_client(), db, owner)
    ended_row = db.get(UserSession, ended.id)
    ended_row.ended_at = utcnow()
    db.commit()
    new_session(another_client(), db, team["ADMIN"])  # a colleague's session is not mine
    page = laptop.get("/settings/profile")
    rows = page.html.select("#sessions tbody tr")
    assert len(rows) == 2
    texts = {row["data-session"]: row.get_text(" ", strip=True) for row in rows}
    assert "Chrome Mobile 126 on Android" in texts[str(phone_row.id)] and "203.0.113.9" in texts[str(phone_row.id)]
    current = page.html.select("#sessions tr[data-current]")
    assert len(current) == 1 and "Firefox 128 on Linux" in current[0].get_text() and "this one" in current[0].get_text()
    assert str(ended.id) not in texts


def test_ending_another_session_signs_that_browser_out(browser, another_client, team, db):
    owner = team["OWNER"]
    laptop = browser(owner)
    phone = another_client()
    phone_row = new_session(phone, db, owner, ip="203.0.113.9", user_agent=CHROME_ON_ANDROID)
    response = laptop.get("/settings/profile").forms[f"end-session-{phone_row.id}"].submit(status=303)
    assert response.location.endswith("/settings/profile")
    assert "Chrome Mobile 126 on Android (203.0.113.9) is signed out" in response.follow().text
    _signed_out(phone)
    laptop.get("/dashboard", status=200)
    assert fresh(db, phone_row).end_reason == "ended_by_user"
    entry = audit_rows(db, "auth.session_end")[0]
    assert entry.actor_id == owner.id and entry.company_id == team.company.id
    assert entry.changes == {"session": phone_row.id, "browser": "Chrome Mobile 126 on Android", "ip": "203.0.113.9"}
    # Ended already: not found any more.
    laptop.post(f"/settings/sessions/{phone_row.id}/end", {"csrf_token": csrf_token(laptop)}, status=404)


def test_ending_this_session_signs_me_out(browser, team, db):
    laptop = browser(team["AGENT"])
    (row,) = _rows(db)
    response = laptop.get("/settings/profile").forms[f"end-session-{row.id}"].submit(status=303)
    assert response.location.endswith("/login")
    _signed_out(laptop)


def test_ending_a_session_needs_csrf(browser, another_client, team, db):
    laptop = browser(team["OWNER"])
    phone_row = new_session(another_client(), db, team["OWNER"])
    laptop.post(f"/settings/sessions/{phone_row.id}/end", status=400)
    laptop.post(f"/settings/sessions/{phone_row.id}/end", {"csrf_token": "forged"}, status=400)
    assert fresh(db, phone_row).ended_at is None
    assert audit_actions(db, team.company.id, "auth.session") == []


def test_nobody_ends_someone_elses_session(browser, another_client, team, db, make_company, make_user):
    colleague_row = new_session(another_client(), db, team["AGENT"])
    stranger = make_user(make_company(name="Other Co"), "OWNER", username="stranger")
    stranger_row = new_session(another_client(), db, stranger)
    owner = browser(team["OWNER"])
    token = csrf_token(owner)
    for row in (colleague_row, stranger_row):
        owner.post(f"/settings/sessions/{row.id}/end", {"csrf_token": token}, status=404)
    for bad in ("99999999", "9" * 30):
        owner.post(f"/settings/sessions/{bad}/end", {"csrf_token": token}, status=404)
    assert [row.ended_at for row in _rows(db)] == [None, None, None]
    assert audit_actions(db, None, "auth.session") == []


# Impersonation


@pytest.fixture
def admin_session(another_client, db, platform, make_user):
    admin = make_user(platform, "SUPER_ADMIN", username="root")
    client = another_client()
    csrf_token(client)
    new_session(client, db, admin)
    return client, admin


def _impersonate(client, team, role="AGENT"):
    return client.post(
        f"/admin/companies/{team.company.id}/users/{team[role].id}/impersonate",
        {"csrf_token": csrf_token(client)},
        status=303,
    )


def test_impersonation_keeps_the_sign_in_time_and_stopping_ends_it(admin_session, another_client, team, db):
    client, admin = admin_session
    (own,) = _rows(db, user_id=admin.id)
    _age(db, own, seen_ago=5, created_ago=3600)
    signed_in_at = fresh(db, own).created_at
    admin_cookie = client.cookies[SESSION_COOKIE]
    _impersonate(client, team)
    me = client.get("/api/v1/me").json
    assert me["username"] == "agent" and me["impersonated_by"] == admin.id
    (borrowed,) = _rows(db, impersonator_id=admin.id)
    assert borrowed.user_id == team["AGENT"].id and borrowed.company_id == team.company.id
    assert borrowed.created_at == signed_in_at  # the absolute limit still counts from the sign-in
    assert fresh(db, own).end_reason == "impersonation_start"
    _signed_out(_replay(another_client, admin_cookie))
    borrowed_cookie = client.cookies[SESSION_COOKIE]
    client.post("/admin/impersonation/stop", {"csrf_token": csrf_token(client)}, status=303)
    assert client.get("/api/v1/me").json["username"] == "root"
    # A copy of the impersonation cookie is signed out once impersonation stops.
    _signed_out(_replay(another_client, borrowed_cookie))
    assert fresh(db, borrowed).end_reason == "impersonation_stop"
    back = [row for row in _rows(db, user_id=admin.id) if row.ended_at is None]
    assert len(back) == 1 and back[0].created_at == signed_in_at


def test_impersonation_cannot_outlive_the_absolute_limit(admin_session, team, db):
    client, admin = admin_session
    (own,) = _rows(db, user_id=admin.id)
    _age(db, own, seen_ago=5, created_ago=ABSOLUTE - 2)
    _impersonate(client, team)
    (borrowed,) = _rows(db, impersonator_id=admin.id)
    _age(db, borrowed, seen_ago=5, created_ago=ABSOLUTE + 1)
    _signed_out(client)


def test_impersonation_ends_with_the_super_admins_sessions(admin_session, browser, team, db):
    client, admin = admin_session
    _impersonate(client, team)
    other_device = browser(admin)
    other_device.get("/settings/profile").forms["logout-everywhere-form"].submit(status=303)
    _signed_out(client)
    assert {row.end_reason for row in _rows(db, impersonator_id=admin.id)} == {"logout_all"}


def test_impersonation_ends_when_the_super_admin_is_deactivated(admin_session, team, db):
    client, admin = admin_session
    _impersonate(client, team)
    client.get("/api/v1/me", status=200)
    user = fresh(db, admin)
    user.is_active = False
    db.commit()
    _signed_out(client)


def test_logout_while_impersonating_ends_the_borrowed_session(admin_session, another_client, team, db):
    client, admin = admin_session
    _impersonate(client, team)
    copied = client.cookies[SESSION_COOKIE]
    client.post("/logout", {"csrf_token": csrf_token(client)}, status=303)
    _signed_out(_replay(another_client, copied))
    assert [row.end_reason for row in _rows(db, impersonator_id=admin.id)] == ["logout"]


def test_sessions_cannot_be_ended_while_impersonating(admin_session, another_client, team, db):
    client, _admin = admin_session
    agent_row = new_session(another_client(), db, team["AGENT"])
    _impersonate(client, team)
    assert f'data-session="{agent_row.id}"' in client.get("/settings/profile").text  # read-only view
    client.post(f"/settings/sessions/{agent_row.id}/end", {"csrf_token": csrf_token(client)}, status=403)
    assert fresh(db, agent_row).ended_at is None
