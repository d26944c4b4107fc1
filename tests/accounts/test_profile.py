"""Settings → Profile: one's own name and email."""

from __future__ import annotations

from accounts.helpers import audit_rows, fresh
from support import csrf_token


def test_profile_saves_name_and_email(browser, team, db):
    client = browser(team["AGENT"])
    form = client.get("/settings/profile").forms["profile-form"]
    assert form["name"].value == "Agent User"
    form["name"] = "  Alex   Agent "
    form["email"] = "Alex@Example.COM"
    response = form.submit(status=303)
    assert "Profile saved." in response.follow().text
    user = fresh(db, team["AGENT"])
    assert (user.name, user.email) == ("Alex Agent", "Alex@example.com")
    entry = audit_rows(db, "user.update")[0]
    assert entry.actor_id == user.id and entry.target_id == str(user.id)
    assert entry.changes == {
        "email": {"from": None, "to": "Alex@example.com"},
        "name": {"from": "Agent User", "to": "Alex Agent"},
    }


def test_bad_email_is_shown_and_nothing_changes(browser, team, db):
    client = browser(team["VIEWER"])
    form = client.get("/settings/profile").forms["profile-form"]
    form["name"] = "New Name"
    form["email"] = "viewer@"
    page = form.submit(status=400)
    assert 'id="email-error"' in page.text
    assert page.forms["profile-form"]["name"].value == "New Name"
    user = fresh(db, team["VIEWER"])
    assert (user.name, user.email) == ("Viewer User", None)
    assert audit_rows(db, "user.update") == []


def test_profile_change_needs_csrf_and_is_refused_while_nothing_changes(browser, team, db):
    client = browser(team["OWNER"])
    client.post("/settings/profile", {"name": "Sneaky"}, status=400)
    client.post("/settings/profile", {"name": "Sneaky", "csrf_token": "forged"}, status=400)
    assert fresh(db, team["OWNER"]).name == "Owner User"
    client.post("/settings/profile", {"name": "Owner Again", "csrf_token": csrf_token(client)}, status=303)
    assert fresh(db, team["OWNER"]).name == "Owner Again"


def test_saving_unchanged_profile_records_nothing(browser, team, db):
    client = browser(team["MANAGER"])
    client.get("/settings/profile").forms["profile-form"].submit(status=303)
    assert audit_rows(db, "user.update") == []
