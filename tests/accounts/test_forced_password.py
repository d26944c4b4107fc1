"""Users flagged to change their password (the demo users are) can do nothing else first."""

from __future__ import annotations

import pytest

from accounts.helpers import api, audit_actions, fresh
from accounts.routewalk import path, routed_views
from orbitflow.accounts.guards import PASSWORD_CHANGE_ROUTES
from support import PASSWORD, login

NEW_PASSWORD = "Fresh-Orbit-2031"


@pytest.fixture
def flagged(team, db):
    """The team's manager, flagged as ``initializedb --demo`` flags the demo users."""
    manager = team["MANAGER"]
    manager.must_change_password = True
    db.commit()
    return manager


def test_sign_in_leads_to_the_password_page(testapp, flagged):
    response = login(testapp, flagged)
    assert response.location.endswith("/settings/password")
    page = response.follow()
    assert "Choose a new password before you continue" in page.text


def test_every_page_leads_to_the_password_page_and_every_api_call_is_refused(wsgi_app, testapp, flagged):
    login(testapp, flagged)
    registry = wsgi_app.registry
    failures = []
    for view in routed_views(registry):
        if view.is_public or view.route_name in PASSWORD_CHANGE_ROUTES or not view.is_safe:
            continue
        response = testapp.get(path(registry, view), expect_errors=True)
        if view.is_api:
            ok = response.status_int == 403 and "Change your password first" in response.json["error"]["message"]
        else:
            ok = response.status_int == 302 and response.location.endswith("/settings/password")
        if not ok:
            failures.append(f"{view}: {response.status}")
    assert not failures, "\n".join(failures)
    # Writes too: a form post is sent to the password page, not carried out.
    response = api(testapp, "POST", "/api/v1/users", {"username": "x"}, status=403)
    assert "Change your password first" in response.json["error"]["message"]
    # What stays open: the password page, who-am-I, and signing out.
    testapp.get("/settings/password", status=200)
    assert api(testapp, "GET", "/api/v1/me").json["must_change_password"] is True


def test_changing_the_password_lifts_the_flag(testapp, flagged, db):
    login(testapp, flagged)
    form = testapp.get("/settings/password").forms["password-form"]
    form["current_password"] = PASSWORD
    form["new_password"] = form["confirm_password"] = NEW_PASSWORD
    assert form.submit(status=303).location.endswith("/dashboard")
    testapp.get("/dashboard", status=200)
    testapp.get("/settings/users", status=200)
    assert fresh(db, flagged).must_change_password is False
    entry_actions = audit_actions(db, flagged.company_id)
    assert entry_actions[-1] == "auth.password_change"


def test_changing_it_through_the_api_lifts_the_flag(testapp, flagged, db):
    login(testapp, flagged)
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    me = api(testapp, "POST", "/api/v1/me/password", body, status=200).json
    assert me["must_change_password"] is False
    api(testapp, "GET", "/api/v1/users", status=200)
    assert fresh(db, flagged).must_change_password is False


@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("short-1", "Use at least 10 characters."),
        ("my-manager-pass", "The password must not contain the username."),
        ("ACME-is-great-1", "The password must not contain the subscription ID."),
        ("aaaaaaaaaaaa", "Use a less repetitive password."),
        (PASSWORD, "Choose a password different from the current one."),
    ],
    ids=["length", "username", "subscription-id", "repetitive", "unchanged"],
)
def test_password_rules(testapp, flagged, db, new_password, message):
    login(testapp, flagged)
    form = testapp.get("/settings/password").forms["password-form"]
    form["current_password"] = PASSWORD
    form["new_password"] = form["confirm_password"] = new_password
    page = form.submit(status=400)
    assert message in page.text
    assert 'aria-invalid="true"' in page.text
    # Through the API the same rule answers 422 with the field.
    response = api(
        testapp,
        "POST",
        "/api/v1/me/password",
        {"current_password": PASSWORD, "new_password": new_password},
        status=422,
    )
    assert message in response.json["error"]["fields"]["new_password"]
    user = fresh(db, flagged)
    assert user.must_change_password is True
    testapp.get("/settings/password", status=200)  # still signed in
    assert "auth.password_change" not in audit_actions(db, flagged.company_id)


def test_wrong_current_password_and_mismatched_confirmation(testapp, flagged, db):
    login(testapp, flagged)
    form = testapp.get("/settings/password").forms["password-form"]
    form["current_password"] = "not-my-password"
    form["new_password"] = form["confirm_password"] = NEW_PASSWORD
    assert "The current password is not correct." in form.submit(status=400).text
    form = testapp.get("/settings/password").forms["password-form"]
    form["current_password"] = PASSWORD
    form["new_password"] = NEW_PASSWORD
    form["confirm_password"] = NEW_PASSWORD + "x"
    assert "The two new passwords differ." in form.submit(status=400).text
    response = api(testapp, "POST", "/api/v1/me/password", {"current_password": "nope", "new_password": NEW_PASSWORD})
    assert response.status_int == 422
    assert response.json["error"]["fields"] == {"current_password": "The current password is not correct."}
    api(testapp, "POST", "/api/v1/me/password", {"current_password": PASSWORD, "extra": 1}, status=422)
    api(testapp, "POST", "/api/v1/me/password", status=400)  # no body
    assert fresh(db, flagged).must_change_password is True


def test_password_change_needs_csrf(testapp, flagged, db):
    login(testapp, flagged)
    testapp.post(
        "/settings/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        status=400,
    )
    testapp.post_json("/api/v1/me/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, status=400)
    assert fresh(db, flagged).must_change_password is True
