"""Signing in and out through the login page: generic errors, inactive accounts.

The limits on attempts and the lockout are tested in accounts/test_signin_limits.py."""

import re

from sqlalchemy import select

from orbitflow.accounts.models import User
from orbitflow.audit.models import AuditEntry
from support import PASSWORD, csrf_token, login

GENERIC = "Wrong subscription ID, username or password."


def _audit(db, company_id=None):
    db.rollback()
    query = select(AuditEntry).order_by(AuditEntry.id)
    if company_id is not None:
        query = query.where(AuditEntry.company_id == company_id)
    return list(db.scalars(query))


def _fresh_user(db, user):
    db.rollback()
    return db.get(User, user.id)


def test_login_page_renders_form_with_csrf(testapp):
    page = testapp.get("/login", status=200)
    form = page.forms[0]
    assert set(form.fields) >= {"subscription_id", "username", "password", "csrf_token"}
    assert 'name="csrf-token"' in page.text


def test_owner_signs_in_and_sees_dashboard(testapp, make_company, make_user, db):
    company = make_company(name="Acme Rockets")
    owner = make_user(company, "OWNER", username="olivia")
    response = login(testapp, owner)
    assert response.location.endswith("/dashboard")
    dashboard = testapp.get("/dashboard", status=200)
    assert "Acme Rockets" in dashboard.text
    entries = _audit(db, company.id)
    assert [entry.action for entry in entries] == ["auth.login"]
    assert entries[0].actor_id == owner.id and entries[0].ip == "10.0.0.1"
    assert _fresh_user(db, owner).last_login_at is not None


def test_session_cookie_is_httponly_and_lax(testapp, make_company, make_user):
    owner = make_user(make_company(), "OWNER")
    response = login(testapp, owner)
    cookie = next(value for name, value in response.headerlist if value.startswith("orbitflow_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "secure" not in cookie.lower()  # AUTH_URL of the tests is http://localhost


def test_username_and_subscription_id_ignore_case_and_spaces(testapp, make_company, make_user):
    company = make_company(subscription_id="mixed-case")
    owner = make_user(company, "OWNER", username="olivia")
    response = testapp.post(
        "/login",
        {
            "subscription_id": " Mixed-Case ",
            "username": "Olivia ",
            "password": PASSWORD,
            "csrf_token": csrf_token(testapp),
        },
        status=303,
    )
    assert response.location.endswith("/dashboard")
    assert testapp.get("/api/v1/me").json["id"] == owner.id


def test_wrong_password_and_unknown_accounts_get_the_same_message(testapp, make_company, make_user, db):
    company = make_company(subscription_id="known")
    owner = make_user(company, "OWNER", username="olivia")
    wrong_password = login(testapp, owner, password="wrong-password-1", status=400)
    cases = [("known", "nobody"), ("unknown-company", "olivia")]
    pages = [
        testapp.post(
            "/login",
            {"subscription_id": sub, "username": name, "password": "x" * 12, "csrf_token": csrf_token(testapp)},
            status=400,
        )
        for sub, name in cases
    ]
    # One message, whatever was wrong: nothing tells which accounts exist.
    alerts = [re.findall(r'role="alert">([^<]*)<', page.text) for page in [wrong_password, *pages]]
    assert alerts == [[GENERIC]] * 3
    # Failures are audited; the typed password is never kept in the form.
    actions = [entry.action for entry in _audit(db)]
    assert actions.count("auth.login_failed") == 3
    assert 'value="wrong-password-1"' not in wrong_password.text


def test_empty_fields_are_refused_with_a_message(testapp):
    page = testapp.post(
        "/login", {"subscription_id": "", "username": "", "password": "", "csrf_token": csrf_token(testapp)}, status=400
    )
    assert "Enter your subscription ID, username and password." in page.text


def test_inactive_user_and_inactive_company_cannot_sign_in(testapp, make_company, make_user, db):
    active_company = make_company()
    gone = make_user(active_company, "AGENT", is_active=False)
    closed = make_company(name="Closed Ltd")
    closed.is_active = False
    db.commit()
    owner_of_closed = make_user(closed, "OWNER")
    for user in (gone, owner_of_closed):
        page = login(testapp, user, status=400)
        assert GENERIC in page.text
        testapp.get("/dashboard", status=302)
    reasons = [entry.changes for entry in _audit(db) if entry.action == "auth.login_failed"]
    assert reasons == [{"reason": "inactive"}, {"reason": "inactive"}]


def test_sessions_of_a_company_end_when_it_is_deactivated(testapp, make_company, make_user, db):
    company = make_company()
    owner = make_user(company, "OWNER")
    login(testapp, owner)
    testapp.get("/dashboard", status=200)
    db.get(type(company), company.id).is_active = False
    db.commit()
    testapp.get("/dashboard", status=302)
    testapp.get("/api/v1/me", status=401)


def test_login_without_csrf_token_is_refused(testapp, make_company, make_user, db):
    owner = make_user(make_company(), "OWNER")
    testapp.get("/login")
    testapp.post(
        "/login",
        {"subscription_id": owner.company.subscription_id, "username": owner.username, "password": PASSWORD},
        status=400,
    )
    testapp.get("/dashboard", status=302)
    assert _audit(db) == []


def test_csrf_token_changes_at_sign_in(testapp, make_company, make_user):
    owner = make_user(make_company(), "OWNER")
    before = csrf_token(testapp)
    login(testapp, owner)
    assert testapp.cookies["orbitflow_csrf"] != before


def test_dashboard_redirects_anonymous_to_login_and_back(testapp, make_company, make_user):
    owner = make_user(make_company(), "OWNER")
    response = testapp.get("/settings/profile", status=302)
    assert "/login?next=%2Fsettings%2Fprofile" in response.location
    form = response.follow().forms[0]
    form["subscription_id"] = owner.company.subscription_id
    form["username"] = owner.username
    form["password"] = PASSWORD
    assert form.submit(status=303).location == "http://localhost/settings/profile"


def test_next_never_leads_to_another_site(testapp, make_company, make_user):
    owner = make_user(make_company(), "OWNER")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/a\nb"):
        client_response = testapp.post(
            "/login",
            {
                "subscription_id": owner.company.subscription_id,
                "username": owner.username,
                "password": PASSWORD,
                "next": target,
                "csrf_token": csrf_token(testapp),
            },
            status=303,
        )
        assert client_response.location == "http://localhost/dashboard", target


def test_logout_ends_the_session_and_is_audited(testapp, make_company, make_user, db):
    company = make_company()
    owner = make_user(company, "OWNER")
    login(testapp, owner)
    response = testapp.post("/logout", {"csrf_token": csrf_token(testapp)}, status=303)
    assert response.location.endswith("/login")
    testapp.get("/dashboard", status=302)
    assert [entry.action for entry in _audit(db, company.id)] == ["auth.login", "auth.logout"]


def test_logout_needs_csrf(testapp, make_company, make_user):
    owner = make_user(make_company(), "OWNER")
    login(testapp, owner)
    testapp.post("/logout", status=400)
    testapp.get("/dashboard", status=200)


def test_signed_in_user_opening_login_goes_home(testapp, make_company, make_user):
    owner = make_user(make_company(), "OWNER")
    login(testapp, owner)
    assert testapp.get("/login", status=302).location.endswith("/dashboard")
    assert testapp.get("/", status=302).location.endswith("/dashboard")
