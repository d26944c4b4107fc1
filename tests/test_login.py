"""Signing in and out through the login page."""

from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from support import csrf_token, login


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
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.company_id == company.id)).all()
    assert "auth.login" in actions


def test_wrong_password_gets_generic_message(testapp, make_company, make_user):
    owner = make_user(make_company(), "OWNER")
    page = login(testapp, owner, password="wrong-password", status=400)
    assert "Wrong subscription ID, username or password." in page.text
    unknown = testapp.post(
        "/login",
        {"subscription_id": "nope", "username": "x", "password": "y", "csrf_token": csrf_token(testapp)},
        status=400,
    )
    assert "Wrong subscription ID, username or password." in unknown.text


def test_login_without_csrf_token_is_refused(testapp, make_company, make_user):
    owner = make_user(make_company(), "OWNER")
    testapp.get("/login")
    testapp.post(
        "/login",
        {"subscription_id": owner.company.subscription_id, "username": owner.username, "password": "Correct-Horse-42"},
        status=400,
    )
    testapp.get("/dashboard", status=302)


def test_dashboard_redirects_anonymous_to_login(testapp):
    response = testapp.get("/dashboard", status=302)
    assert "/login?next=%2Fdashboard" in response.location


def test_logout_ends_the_session(testapp, make_company, make_user):
    owner = make_user(make_company(), "OWNER")
    login(testapp, owner)
    testapp.post("/logout", {"csrf_token": csrf_token(testapp)}, status=303)
    testapp.get("/dashboard", status=302)
