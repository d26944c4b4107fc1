"""Super admin → a company's page: its users, create any role, reset password, deactivate."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from orbitflow.accounts.models import User
from orbitflow.audit.models import AuditEntry
from support import PASSWORD, csrf_token, login

NEW_PASSWORD = "Launch-Pad-2026"


def _user(db, company, username: str) -> User | None:
    db.expire_all()
    return db.scalars(select(User).where(User.company_id == company.id, User.username == username)).first()


def _entries(db, action: str) -> list[AuditEntry]:
    db.expire_all()
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _post(client, url: str, **data):
    return client.post(url, {**data, "csrf_token": csrf_token(client)}, status=303)


def test_company_page_lists_its_users_only(admin_client, acme, acme_owner, make_company, make_user):
    make_user(acme, "AGENT", username="alex")
    make_user(make_company(name="Other"), "OWNER", username="stranger")
    page = admin_client.get(f"/admin/companies/{acme.id}", status=200)
    users = page.html.find("table", class_="users").get_text()
    assert "olivia" in users and "alex" in users and "stranger" not in users
    assert "2 / 10" in page.text  # active users / quota
    found = admin_client.get(f"/admin/companies/{acme.id}", {"q": "ale"})
    assert "alex" in found.text and "olivia" not in found.html.find("table", class_="users").get_text()


def test_company_users_are_paged(admin_client, acme, make_company, make_user, db):
    big = make_company(name="Big", max_users=100)
    for number in range(55):
        db.add(User(company_id=big.id, username=f"user{number:02d}", role="AGENT", password_hash="x"))
    db.commit()
    first = admin_client.get(f"/admin/companies/{big.id}")
    assert "user49" in first.text and "user50" not in first.text
    second = first.click(description="Next")
    assert "user54" in second.text and "user00" not in second.text


def test_empty_company_offers_to_create_its_owner(admin_client, acme):
    page = admin_client.get(f"/admin/companies/{acme.id}")
    assert "Acme Rockets has no users yet." in page.text
    assert page.click(description="Create its owner").forms["user-form"]["role"].value == "OWNER"


def test_create_owner_who_must_change_password(admin_client, acme, another_client, db):
    form = admin_client.get(f"/admin/companies/{acme.id}/users/new", {"role": "OWNER"}).forms["user-form"]
    assert form["must_change_password"].checked
    form["username"], form["name"], form["email"] = "Boss", "Bea Boss", "bea@example.com"
    form["password"] = form["confirm_password"] = NEW_PASSWORD
    page = form.submit(status=303).follow(status=200)
    assert "User boss (OWNER) created in Acme Rockets." in page.text
    owner = _user(db, acme, "boss")
    assert (owner.role, owner.email, owner.must_change_password) == ("OWNER", "bea@example.com", True)
    entry = _entries(db, "user.create")[0]
    assert (entry.company_id, entry.actor_name, entry.target_id) == (acme.id, "root", str(owner.id))
    assert entry.changes["role"] == {"from": None, "to": "OWNER"}
    assert "password" not in str(entry.changes).lower()
    browser = another_client()
    response = login(browser, owner, password=NEW_PASSWORD)
    assert response.location.endswith("/settings/password")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"username": ""}, "username", "Enter a username."),
        ({"username": "has space"}, "username", "Use up to 64 letters"),
        ({"username": "olivia"}, "username", "This username is taken in this company"),
        ({"role": "SUPER_ADMIN"}, "role", "Choose one of"),
        ({"email": "not-an-email"}, "email", "e-mail address like name@example.com"),
        ({"password": "short", "confirm_password": "short"}, "password", "Use at least 10 characters."),
        ({"password": "acme-is-my-password", "confirm_password": "acme-is-my-password"}, "password", "subscription"),
        ({"confirm_password": "Something-Else-1"}, "confirm_password", "The two passwords differ."),
    ],
)
def test_bad_user_input_is_refused_by_field(admin_client, acme, acme_owner, db, fields, field, message):
    data = {
        "username": "newbie",
        "name": "New Bie",
        "email": "",
        "role": "AGENT",
        "password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }
    data.update(fields)
    page = admin_client.post(
        f"/admin/companies/{acme.id}/users/new", {**data, "csrf_token": csrf_token(admin_client)}, status=400
    )
    error = page.html.find(id=field).find_parent("div", class_="field").find("div", class_="error")
    assert message in error.text
    assert page.forms["user-form"]["name"].value == "New Bie"
    assert page.forms["user-form"]["password"].value == ""
    assert db.scalar(select(func.count()).select_from(User).where(User.company_id == acme.id)) == 1
    assert _entries(db, "user.create") == []


def test_quota_refuses_the_user_over_the_limit(admin_client, make_company, make_user, db):
    tiny = make_company(name="Tiny", plan="FREE", max_users=1)
    make_user(tiny, "OWNER")
    form = admin_client.get(f"/admin/companies/{tiny.id}/users/new").forms["user-form"]
    form["username"], form["role"] = "extra", "AGENT"
    form["password"] = form["confirm_password"] = NEW_PASSWORD
    page = form.submit(status=400)
    assert "The company's plan allows 1 active user and all are in use." in page.html.get_text()
    assert _user(db, tiny, "extra") is None


def test_platform_company_takes_super_admins_only(admin_client, platform, db):
    form = admin_client.get(f"/admin/companies/{platform.id}/users/new").forms["user-form"]
    assert [value for value, _, _ in form["role"].options] == ["SUPER_ADMIN"]
    form["username"] = "second-root"
    form["password"] = form["confirm_password"] = NEW_PASSWORD
    form.submit(status=303)
    assert _user(db, platform, "second-root").role == "SUPER_ADMIN"


def test_reset_password_forces_a_change_and_ends_sessions(admin_client, acme, acme_owner, another_client, db):
    owner_client = another_client()
    login(owner_client, acme_owner)
    form = admin_client.get(f"/admin/companies/{acme.id}/users/{acme_owner.id}/password").forms["password-form"]
    form["password"] = form["confirm_password"] = NEW_PASSWORD
    page = form.submit(status=303).follow()
    assert "Password of olivia reset" in page.text
    owner_client.get("/dashboard", status=302)  # signed out
    owner = _user(db, acme, "olivia")
    assert owner.must_change_password is True
    login(another_client(), owner, password=PASSWORD, status=400)
    assert login(another_client(), owner, password=NEW_PASSWORD).location.endswith("/settings/password")
    entry = _entries(db, "user.password_reset")[0]
    assert (entry.company_id, entry.actor_name, entry.target_id) == (acme.id, "root", str(owner.id))


def test_reset_password_can_generate_one_shown_once(admin_client, acme, acme_owner, another_client, db):
    form = admin_client.get(f"/admin/companies/{acme.id}/users/{acme_owner.id}/password").forms["password-form"]
    page = form.submit(status=200)
    assert page.headers["Cache-Control"] == "no-store"
    generated = page.html.find(id="generated-password").text
    owner = _user(db, acme, "olivia")
    assert owner.must_change_password is True
    assert login(another_client(), owner, password=generated).location.endswith("/settings/password")
    assert len(_entries(db, "user.password_reset")) == 1


def test_reset_password_refuses_a_weak_password(admin_client, acme, acme_owner, db):
    url = f"/admin/companies/{acme.id}/users/{acme_owner.id}/password"
    page = admin_client.post(
        url,
        {"password": "olivia12345", "confirm_password": "olivia12345", "csrf_token": csrf_token(admin_client)},
        status=400,
    )
    assert "must not contain the username" in page.text
    assert _user(db, acme, "olivia").must_change_password is False


def test_deactivate_and_reactivate_a_user(admin_client, acme, acme_owner, make_user, another_client, db):
    agent = make_user(acme, "AGENT", username="alex")
    agent_client = another_client()
    login(agent_client, agent)
    _post(admin_client, f"/admin/companies/{acme.id}/users/{agent.id}/deactivate")
    assert _user(db, acme, "alex").is_active is False
    agent_client.get("/dashboard", status=302)
    _post(admin_client, f"/admin/companies/{acme.id}/users/{agent.id}/reactivate")
    assert _user(db, acme, "alex").is_active is True
    assert [e.action for e in _entries(db, "user.deactivate") + _entries(db, "user.reactivate")] == [
        "user.deactivate",
        "user.reactivate",
    ]


def test_last_owner_and_oneself_cannot_be_deactivated(admin_client, admin, platform, acme, acme_owner, db):
    page = _post(admin_client, f"/admin/companies/{acme.id}/users/{acme_owner.id}/deactivate").follow()
    assert "You cannot deactivate the company's last active owner" in page.html.get_text()
    page = _post(admin_client, f"/admin/companies/{platform.id}/users/{admin.id}/deactivate").follow()
    assert "You cannot deactivate your own account." in page.text
    assert _user(db, acme, "olivia").is_active and _user(db, platform, "root").is_active
    assert _entries(db, "user.deactivate") == []


def test_user_of_another_company_is_404(
    admin_client, acme, make_company, make_user, db, unchanged, another_client, login_as
):
    stranger = make_user(make_company(name="Other"), "OWNER")
    their_browser = login_as(stranger, another_client())
    password_hash = stranger.password_hash
    with unchanged():
        admin_client.get(f"/admin/companies/{acme.id}/users/{stranger.id}/password", status=404)
        for action, data in (
            ("password", {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}),
            ("password", {"password": "", "confirm_password": ""}),
            ("deactivate", {}),
            ("reactivate", {}),
        ):
            admin_client.post(
                f"/admin/companies/{acme.id}/users/{stranger.id}/{action}",
                {**data, "csrf_token": csrf_token(admin_client)},
                status=404,
            )
    db.expire_all()
    assert (stranger.is_active, stranger.password_hash) == (True, password_hash)
    # Still signed in, with the same password.
    their_browser.get("/leads", status=200)
