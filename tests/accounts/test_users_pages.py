"""Settings → Users: owners and admins manage accounts, managers read them."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from accounts.helpers import audit_actions, audit_rows, fresh
from orbitflow.accounts.models import User
from support import PASSWORD, csrf_token, login

NEW_PASSWORD = "Launch-Pad-2031"


def _user_count(db, company) -> int:
    db.rollback()
    return db.scalar(select(func.count(User.id)).where(User.company_id == company.id))


def _new_user_form(client, **values):
    form = client.get("/settings/users/new").forms["user-form"]
    fields = {"username": "dana", "name": "Dana Seller", "email": "dana@example.com", "role": "AGENT"}
    fields.update({"password": NEW_PASSWORD, **values})
    for name, value in fields.items():
        form[name] = value
    return form


def _usernames(page) -> list[str]:
    return re.findall(r'<tr data-user="([^"]+)"', page.text)


def test_owner_creates_a_user_who_can_sign_in(browser, team, db, another_client):
    owner = browser(team["OWNER"])
    response = _new_user_form(owner, username="Dana").submit(status=303)
    assert response.location.endswith("/settings/users")
    listing = response.follow()
    assert "User dana created." in listing.text
    assert "dana" in _usernames(listing)
    dana = db.scalar(select(User).where(User.company_id == team.company.id, User.username == "dana"))
    assert (dana.role, dana.name, dana.email, dana.must_change_password) == (
        "AGENT",
        "Dana Seller",
        "dana@example.com",
        True,
    )
    entry = audit_rows(db, "user.create")[0]
    assert entry.company_id == team.company.id and entry.actor_id == team["OWNER"].id
    assert entry.target_id == str(dana.id) and entry.changes["role"] == {"from": None, "to": "AGENT"}
    assert "password" not in str(entry.changes).lower()
    # The new user signs in (with the password set for them) and must choose their own.
    assert login(another_client(), dana, password=NEW_PASSWORD).location.endswith("/settings/password")


def test_bad_input_is_shown_by_field_and_nothing_is_created(browser, team, db):
    owner = browser(team["OWNER"])
    before = _user_count(db, team.company)
    form = _new_user_form(owner, username="no spaces!", email="not-an-email", password="short")
    page = form.submit(status=400)
    assert "Use up to 64 letters, digits" in page.text
    assert "Enter an e-mail address like name@example.com (this one has no @)." in page.text
    assert "Use at least 10 characters." in page.text
    assert page.forms["user-form"]["name"].value == "Dana Seller"  # what was typed stays
    assert _user_count(db, team.company) == before
    assert audit_actions(db, team.company.id, "user.") == []


def test_password_must_not_contain_username_or_subscription_id(browser, team, db):
    owner = browser(team["OWNER"])
    page = _new_user_form(owner, username="dana", password="hello-dana-123").submit(status=400)
    assert "must not contain the username" in page.text
    page = _new_user_form(owner, password="acme-rockets-99").submit(status=400)
    assert "must not contain the subscription ID" in page.text


def test_usernames_are_unique_per_company(browser, team, db, make_company, make_user):
    other = make_company(name="Other Co")
    make_user(other, "AGENT", username="dana")  # same name elsewhere is fine
    owner = browser(team["OWNER"])
    _new_user_form(owner).submit(status=303)
    page = _new_user_form(owner, username="DANA").submit(status=409)
    assert "This username is taken in this company" in page.text
    assert _user_count(db, team.company) == 6


def test_the_user_quota_is_enforced(browser, team, db):
    team.company.max_users = 6
    db.commit()
    owner = browser(team["OWNER"])
    _new_user_form(owner).submit(status=303)
    page = _new_user_form(owner, username="erin").submit(status=409)
    assert "plan allows 6 active users and all are in use" in page.text
    assert _user_count(db, team.company) == 6
    assert "6 of 6 user seats in use" in owner.get("/settings/users").text
    # Deactivated users do not hold a seat.
    viewer = team["VIEWER"]
    form = owner.get(f"/settings/users/{viewer.id}").forms["deactivate-form"]
    form.submit(status=303)
    _new_user_form(owner, username="erin").submit(status=303)
    # ... and reactivating one needs a free seat again.
    page = owner.get(f"/settings/users/{viewer.id}").forms["reactivate-form"].submit(status=409)
    assert "plan allows 6 active users" in page.text
    assert fresh(db, viewer).is_active is False


def test_admin_cannot_create_or_touch_owners(browser, team, db):
    admin = browser(team["ADMIN"])
    form = admin.get("/settings/users/new").forms["user-form"]
    assert "OWNER" not in [value for value, *_ in form["role"].options]
    # A crafted post is refused too.
    page = admin.post(
        "/settings/users/new",
        {
            "username": "boss",
            "password": NEW_PASSWORD,
            "role": "OWNER",
            "csrf_token": csrf_token(admin),
        },
        status=403,
    )
    assert "Only an owner can give the Owner role." in page.text
    owner = team["OWNER"]
    admin.get(f"/settings/users/{owner.id}", status=403)
    token = csrf_token(admin)
    admin.post(f"/settings/users/{owner.id}", {"name": "Hacked", "csrf_token": token}, status=403)
    admin.post(f"/settings/users/{owner.id}/deactivate", {"csrf_token": token}, status=403)
    admin.post(f"/settings/users/{owner.id}/reset-password", {"csrf_token": token}, status=403)
    # Nor promote someone to owner.
    agent = team["AGENT"]
    admin.post(f"/settings/users/{agent.id}", {"role": "OWNER", "csrf_token": token}, status=403)
    owner_now, agent_now = fresh(db, owner), fresh(db, agent)
    assert owner_now.is_active and owner_now.name == "Owner User" and agent_now.role == "AGENT"
    assert audit_actions(db, team.company.id, "user.") == []
    # Owners are listed for admins, without an edit link.
    listing = admin.get("/settings/users").text
    assert f"/settings/users/{owner.id}" not in listing and f"/settings/users/{agent.id}" in listing


def test_admin_manages_other_roles(browser, team, db):
    admin = browser(team["ADMIN"])
    agent = team["AGENT"]
    form = admin.get(f"/settings/users/{agent.id}").forms["user-form"]
    form["role"] = "MANAGER"
    form["name"] = "Alex Promoted"
    form["email"] = ""
    form.submit(status=303)
    user = fresh(db, agent)
    assert (user.role, user.name, user.email) == ("MANAGER", "Alex Promoted", None)
    entry = audit_rows(db, "user.update")[0]
    assert entry.changes == {
        "name": {"from": "Agent User", "to": "Alex Promoted"},
        "role": {"from": "AGENT", "to": "MANAGER"},
    }


def test_owners_manage_owners_and_nobody_removes_themselves(browser, team, db, make_user):
    owner = team["OWNER"]
    second = make_user(team.company, "OWNER", username="second")
    client = browser(second)
    # With two owners, one may deactivate the other.
    client.get(f"/settings/users/{owner.id}").forms["deactivate-form"].submit(status=303)
    # Nobody deactivates or demotes themselves (the last owner rule is in test_users_api).
    me = client.get(f"/settings/users/{second.id}")
    assert "You cannot change your own role." in me.text and "deactivate-form" not in me.text
    token = csrf_token(client)
    page = client.post(f"/settings/users/{second.id}/deactivate", {"csrf_token": token}, status=409)
    assert "You cannot deactivate your own account." in page.text
    page = client.post(f"/settings/users/{second.id}", {"role": "ADMIN", "csrf_token": token}, status=400)
    assert "You cannot change your own role" in page.text
    client.get(f"/settings/users/{owner.id}").forms["reactivate-form"].submit(status=303)
    # An owner demotes another owner.
    form = client.get(f"/settings/users/{owner.id}").forms["user-form"]
    form["role"] = "ADMIN"
    form.submit(status=303)
    db.rollback()
    owners = db.scalars(
        select(User.username).where(User.company_id == team.company.id, User.role == "OWNER", User.is_active)
    ).all()
    assert owners == ["second"]
    assert audit_actions(db, team.company.id, "user.") == ["user.deactivate", "user.reactivate", "user.update"]


def test_deactivate_and_reactivate_are_audited_and_end_sessions(browser, team, db):
    agent = team["AGENT"]
    agent_browser = browser(agent)
    owner = browser(team["OWNER"])
    owner.get(f"/settings/users/{agent.id}").forms["deactivate-form"].submit(status=303)
    agent_browser.get("/dashboard", status=302)
    login(agent_browser, agent, status=400)
    listing = owner.get("/settings/users?status=inactive")
    assert _usernames(listing) == ["agent"]
    owner.get(f"/settings/users/{agent.id}").forms["reactivate-form"].submit(status=303)
    login(agent_browser, agent)
    assert audit_actions(db, team.company.id, "user.") == ["user.deactivate", "user.reactivate"]
    entry = audit_rows(db, "user.deactivate")[0]
    assert entry.changes == {"is_active": {"from": True, "to": False}}


def test_reset_password_shows_a_temporary_password_once(browser, team, db, another_client):
    viewer = team["VIEWER"]
    viewer_browser = browser(viewer)
    owner = browser(team["OWNER"])
    form = owner.get(f"/settings/users/{viewer.id}").forms["reset-form"]
    page = form.submit(status=200)
    assert page.headers["Cache-Control"] == "no-store"
    temporary = re.search(r"data-temporary-password>([^<]+)<", page.text).group(1)
    viewer_browser.get("/dashboard", status=302)  # sessions ended
    user = fresh(db, viewer)
    assert user.must_change_password
    assert login(another_client(), viewer, password=temporary).location.endswith("/settings/password")
    assert audit_actions(db, team.company.id, "user.") == ["user.password_reset"]
    # A typed temporary password follows the rules.
    form = owner.get(f"/settings/users/{viewer.id}").forms["reset-form"]
    form["password"] = "short"
    assert "Use at least 10 characters." in form.submit(status=400).text


def test_manager_reads_the_list_but_cannot_change_it(browser, team, db):
    manager = browser(team["MANAGER"])
    listing = manager.get("/settings/users")
    assert sorted(_usernames(listing)) == ["admin", "agent", "manager", "owner", "viewer"]
    assert "Add user" not in listing.text and "/settings/users/new" not in listing.text
    manager.get("/settings/users/new", status=403)
    manager.get(f"/settings/users/{team['AGENT'].id}", status=403)
    token = csrf_token(manager)
    manager.post(f"/settings/users/{team['AGENT'].id}/deactivate", {"csrf_token": token}, status=403)
    assert fresh(db, team["AGENT"]).is_active


def test_list_filters_and_pages(browser, team, db, make_user):
    for number in range(30):
        make_user(team.company, "AGENT", username=f"seller{number:02d}", email=f"s{number}@example.com")
    team.company.max_users = 100
    db.commit()
    owner = browser(team["OWNER"])
    first = owner.get("/settings/users")
    assert len(_usernames(first)) == 25 and "Page 1 of 2" in first.text
    second = owner.get("/settings/users?page=2")
    assert len(_usernames(second)) == 10
    assert set(_usernames(first)).isdisjoint(_usernames(second))
    assert _usernames(owner.get("/settings/users?q=SELLER1"))[:3] == ["seller10", "seller11", "seller12"]
    assert _usernames(owner.get("/settings/users?role=VIEWER")) == ["viewer"]
    assert _usernames(owner.get("/settings/users?q=s29@")) == ["seller29"]
    assert _usernames(owner.get("/settings/users?q=100%25")) == []  # a % is a character, not a wildcard
    owner.get("/settings/users?page=abc&role=NOPE&status=weird", status=200)


def test_other_companies_users_are_not_found(browser, team, make_company, make_user, db):
    stranger = make_user(make_company(name="Other Co"), "AGENT", username="stranger")
    owner = browser(team["OWNER"])
    token = csrf_token(owner)
    owner.get(f"/settings/users/{stranger.id}", status=404)
    for action in ("", "/deactivate", "/reactivate", "/reset-password"):
        owner.post(f"/settings/users/{stranger.id}{action}", {"csrf_token": token, "name": "x"}, status=404)
    owner.get("/settings/users/99999999999999999999", status=404)
    assert "stranger" not in owner.get("/settings/users?status=all").text
    user = fresh(db, stranger)
    assert user.is_active and user.name == "Agent User" and not user.must_change_password


def test_changes_without_csrf_token_are_refused_and_change_nothing(browser, team, db):
    owner = browser(team["OWNER"])
    agent = team["AGENT"]
    before = _user_count(db, team.company)
    owner.post("/settings/users/new", {"username": "dana", "password": NEW_PASSWORD, "role": "AGENT"}, status=400)
    owner.post(f"/settings/users/{agent.id}", {"role": "VIEWER"}, status=400)
    owner.post(f"/settings/users/{agent.id}/deactivate", status=400)
    owner.post(f"/settings/users/{agent.id}/reset-password", status=400)
    assert _user_count(db, team.company) == before
    user = fresh(db, agent)
    assert user.role == "AGENT" and user.is_active and not user.must_change_password
    assert audit_actions(db, team.company.id, "user.") == []
    assert PASSWORD  # the agent's own password still works
    login(owner, agent)
