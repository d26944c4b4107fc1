"""Settings → API keys, and the keys at work on the API."""

from __future__ import annotations

import re

from sqlalchemy import select

from accounts.helpers import api, audit_actions, audit_rows, bearer, fresh
from orbitflow.accounts.models import ApiKey, User
from orbitflow.security import hash_api_key
from support import csrf_token

NEW_PASSWORD = "Launch-Pad-2031"


def _create_key(client, name="Nightly sync", role="AGENT", status=201):
    form = client.get("/settings/api-keys").forms["apikey-form"]
    form["name"] = name
    form["role"] = role
    return form.submit(status=status)


def _raw_key(page) -> str:
    return re.search(r"data-raw-key>([^<]+)<", page.text).group(1)


def test_create_key_shown_once_and_stored_hashed(browser, team, db):
    owner = browser(team["OWNER"])
    page = _create_key(owner)
    assert page.headers["Cache-Control"] == "no-store"
    raw = _raw_key(page)
    assert raw.startswith("ofk_") and len(raw) > 40
    db.rollback()
    key = db.scalars(select(ApiKey)).one()
    assert (key.name, key.role, key.company_id, key.created_by_id) == (
        "Nightly sync",
        "AGENT",
        team.company.id,
        team["OWNER"].id,
    )
    assert key.key_hash == hash_api_key(raw) and raw not in (key.key_hash, key.prefix)
    assert raw.startswith(key.prefix)
    # Only the prefix is ever shown again.
    listing = owner.get("/settings/api-keys")
    assert raw not in listing.text and f"{key.prefix}…" in listing.text
    entry = audit_rows(db, "apikey.create")[0]
    assert entry.target_id == str(key.id) and entry.changes == {"name": "Nightly sync", "role": "AGENT"}
    assert raw not in str(entry.changes)


def test_a_key_works_as_bearer_and_records_its_last_use(browser, team, db, testapp):
    raw = _raw_key(_create_key(browser(team["ADMIN"]), role="MANAGER"))
    me = api(testapp, "GET", "/api/v1/me", headers=bearer(raw)).json
    assert me["role"] == "MANAGER" and me["id"] is None and me["api_key"]["name"] == "Nightly sync"
    assert me["company"]["subscription_id"] == "acme"
    users = api(testapp, "GET", "/api/v1/users", headers=bearer(raw)).json
    assert users["total"] == 5
    # Even a refused request counts as a use (written in its own transaction).
    db.rollback()
    assert db.scalars(select(ApiKey)).one().last_used_at is not None
    assert "Nightly sync" in browser(team["OWNER"]).get("/settings/api-keys").text
    # The key's role limits it: a manager key may not create users.
    body = {"username": "dana", "password": NEW_PASSWORD, "role": "AGENT"}
    api(testapp, "POST", "/api/v1/users", body, status=403, headers=bearer(raw))


def test_keys_need_no_csrf_token_and_are_audited_as_the_key(browser, team, db, testapp):
    raw = _raw_key(_create_key(browser(team["OWNER"]), role="ADMIN"))
    body = {"username": "dana", "password": NEW_PASSWORD, "role": "AGENT"}
    api(testapp, "POST", "/api/v1/users", body, status=201, headers=bearer(raw))
    entry = audit_rows(db, "user.create")[0]
    assert entry.actor_id == team["OWNER"].id
    assert entry.actor_name == f"api-key:Nightly sync #{db.scalars(select(ApiKey)).one().id} of owner"


def test_key_role_cannot_exceed_the_creators(browser, team, db):
    admin = browser(team["ADMIN"])
    form = admin.get("/settings/api-keys").forms["apikey-form"]
    assert [value for value, *_ in form["role"].options] == ["ADMIN", "MANAGER", "AGENT", "VIEWER"]
    for role, message in (("OWNER", "cannot have a higher role than yours"), ("SUPER_ADMIN", "Choose one of")):
        page = admin.post(
            "/settings/api-keys", {"name": "x", "role": role, "csrf_token": csrf_token(admin)}, status=400
        )
        assert message in page.text
    page = admin.post(
        "/settings/api-keys", {"name": "  ", "role": "AGENT", "csrf_token": csrf_token(admin)}, status=400
    )
    assert "Name the key" in page.text
    db.rollback()
    assert db.scalars(select(ApiKey)).all() == []
    assert audit_actions(db, team.company.id, "apikey.") == []


def test_revoked_key_gets_401(browser, team, db, testapp):
    owner = browser(team["OWNER"])
    raw = _raw_key(_create_key(owner))
    api(testapp, "GET", "/api/v1/me", headers=bearer(raw), status=200)
    db.rollback()
    key = db.scalars(select(ApiKey)).one()
    response = owner.get("/settings/api-keys").forms[f"revoke-{key.id}"].submit(status=303)
    assert "revoked" in response.follow().text
    error = api(testapp, "GET", "/api/v1/me", headers=bearer(raw), status=401).json["error"]
    assert error["code"] == "unauthorized"
    assert fresh(db, key).revoked_at is not None
    # Revoking twice changes nothing more.
    owner.post(f"/settings/api-keys/{key.id}/revoke", {"csrf_token": csrf_token(owner)}, status=303)
    assert audit_actions(db, team.company.id, "apikey.") == ["apikey.create", "apikey.revoke"]


def test_unknown_keys_and_keys_of_inactive_companies_get_401(browser, team, db, testapp):
    raw = _raw_key(_create_key(browser(team["OWNER"])))
    api(testapp, "GET", "/api/v1/me", headers=bearer("ofk_" + "x" * 43), status=401)
    api(testapp, "GET", "/api/v1/me", headers=bearer(""), status=401)
    team.company.is_active = False
    db.commit()
    api(testapp, "GET", "/api/v1/me", headers=bearer(raw), status=401)


def test_keys_count_on_the_api_only(browser, team, testapp):
    raw = _raw_key(_create_key(browser(team["OWNER"]), role="ADMIN"))
    assert "/login" in testapp.get("/dashboard", headers=bearer(raw), status=302).location


def test_keys_of_one_company_never_see_another(browser, team, db, testapp, make_company, make_user):
    other = make_company(name="Other Co")
    stranger = make_user(other, "OWNER", username="stranger")
    raw = _raw_key(_create_key(browser(team["OWNER"]), role="ADMIN"))
    listing = api(testapp, "GET", "/api/v1/users?per_page=100", headers=bearer(raw)).json
    assert "stranger" not in {user["username"] for user in listing["items"]}
    api(testapp, "GET", f"/api/v1/users/{stranger.id}", headers=bearer(raw), status=404)
    api(testapp, "PATCH", f"/api/v1/users/{stranger.id}", {"name": "x"}, headers=bearer(raw), status=404)
    api(testapp, "DELETE", f"/api/v1/users/{stranger.id}", headers=bearer(raw), status=404)
    assert fresh(db, stranger).is_active
    # Nor can another company's owner revoke this company's key.
    db.rollback()
    key = db.scalars(select(ApiKey)).one()
    intruder = browser(stranger)
    intruder.post(f"/settings/api-keys/{key.id}/revoke", {"csrf_token": csrf_token(intruder)}, status=404)
    assert "Nightly sync" not in intruder.get("/settings/api-keys").text
    assert fresh(db, key).revoked_at is None


def test_managers_and_below_cannot_manage_keys(browser, team, db):
    for role in ("MANAGER", "AGENT", "VIEWER"):
        client = browser(team[role])
        client.get("/settings/api-keys", status=403)
        client.post("/settings/api-keys", {"name": "x", "role": "VIEWER", "csrf_token": csrf_token(client)}, status=403)
    db.rollback()
    assert db.scalars(select(ApiKey)).all() == []


def test_key_changes_need_csrf(browser, team, db):
    owner = browser(team["OWNER"])
    owner.post("/settings/api-keys", {"name": "x", "role": "VIEWER"}, status=400)
    db.rollback()
    assert db.scalars(select(ApiKey)).all() == []
    _create_key(owner)
    db.rollback()
    key = db.scalars(select(ApiKey)).one()
    owner.post(f"/settings/api-keys/{key.id}/revoke", status=400)
    assert fresh(db, key).revoked_at is None


def test_api_key_has_no_password_or_profile(browser, team, testapp, db):
    raw = _raw_key(_create_key(browser(team["OWNER"])))
    body = {"current_password": "x", "new_password": NEW_PASSWORD}
    error = api(testapp, "POST", "/api/v1/me/password", body, headers=bearer(raw), status=403).json["error"]
    assert "API key" in error["message"]
    db.rollback()
    assert all(not user.must_change_password for user in db.scalars(select(User)))


def _user_count(db) -> int:
    db.expire_all()
    db.rollback()
    return len(db.scalars(select(User)).all())


def test_a_key_never_acts_above_its_creators_current_role(browser, team, db, testapp):
    raw = _raw_key(_create_key(browser(team["ADMIN"]), role="ADMIN"))
    assert api(testapp, "GET", "/api/v1/me", headers=bearer(raw)).json["role"] == "ADMIN"
    owner = browser(team["OWNER"])
    api(owner, "PATCH", f"/api/v1/users/{team['ADMIN'].id}", {"role": "VIEWER"}, status=200)
    me = api(testapp, "GET", "/api/v1/me", headers=bearer(raw)).json
    assert me["role"] == "VIEWER" and me["api_key"]["role"] == "ADMIN"
    assert me["api_key"]["created_by"] == team["ADMIN"].id
    assert "users.manage" not in me["permissions"]
    before = _user_count(db)
    body = {"username": "intruder", "password": NEW_PASSWORD, "role": "ADMIN"}
    api(testapp, "POST", "/api/v1/users", body, status=403, headers=bearer(raw))
    assert _user_count(db) == before
    assert db.scalars(select(User).where(User.username == "intruder")).first() is None
    assert audit_rows(db, "user.create") == []
    # The keys page says so.
    assert "acts as Viewer" in owner.get("/settings/api-keys").text
    # Promoted back, the key gets its own role again (never more).
    api(owner, "PATCH", f"/api/v1/users/{team['ADMIN'].id}", {"role": "OWNER"}, status=200)
    assert api(testapp, "GET", "/api/v1/me", headers=bearer(raw)).json["role"] == "ADMIN"


def test_a_key_stops_when_its_creator_is_deactivated(browser, team, db, testapp):
    raw = _raw_key(_create_key(browser(team["ADMIN"]), role="ADMIN"))
    owner = browser(team["OWNER"])
    api(owner, "DELETE", f"/api/v1/users/{team['ADMIN'].id}", status=204)
    assert not fresh(db, team["ADMIN"]).is_active
    before = _user_count(db)
    error = api(testapp, "GET", "/api/v1/me", headers=bearer(raw), status=401).json["error"]
    assert error["code"] == "unauthorized"
    body = {"username": "intruder", "password": NEW_PASSWORD, "role": "ADMIN"}
    api(testapp, "POST", "/api/v1/users", body, status=401, headers=bearer(raw))
    assert _user_count(db) == before
    assert "suspended" in owner.get("/settings/api-keys").text
    # Reactivated, the key works again: it was suspended, not revoked.
    api(owner, "PATCH", f"/api/v1/users/{team['ADMIN'].id}", {"is_active": True}, status=200)
    api(testapp, "GET", "/api/v1/me", headers=bearer(raw), status=200)


def test_a_key_stops_when_its_creator_is_deleted(browser, team, db, testapp):
    raw = _raw_key(_create_key(browser(team["ADMIN"]), role="ADMIN"))
    api(testapp, "GET", "/api/v1/me", headers=bearer(raw), status=200)
    db.rollback()
    db.delete(db.get(User, team["ADMIN"].id))
    db.commit()
    with db.bind.connect() as connection:
        assert connection.execute(select(ApiKey.created_by_id)).scalar_one() is None
    api(testapp, "GET", "/api/v1/me", headers=bearer(raw), status=401)
    assert "suspended" in browser(team["OWNER"]).get("/settings/api-keys").text


def test_a_key_of_a_demoted_creator_is_audited_with_the_key_and_the_creator(browser, team, db, testapp):
    raw = _raw_key(_create_key(browser(team["ADMIN"]), name="CRM sync", role="ADMIN"))
    db.rollback()
    key = db.scalars(select(ApiKey)).one()
    api(browser(team["OWNER"]), "PATCH", f"/api/v1/users/{team['ADMIN'].id}", {"role": "MANAGER"}, status=200)
    api(testapp, "POST", "/api/v1/leads", {"name": "Ada"}, status=201, headers=bearer(raw))
    entry = audit_rows(db, "lead.create")[0]
    assert entry.actor_id == team["ADMIN"].id
    assert entry.actor_name == f"api-key:CRM sync #{key.id} of admin"
