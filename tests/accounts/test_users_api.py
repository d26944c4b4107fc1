"""``/api/v1/me`` and ``/api/v1/users``: JSON in and out, the error shape, the same rules as
the pages."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accounts.helpers import api, audit_actions, audit_rows, bearer, fresh
from orbitflow.accounts.models import User

NEW_PASSWORD = "Launch-Pad-2031"
USER_FIELDS = {"id", "username", "name", "email", "role", "is_active"}


def _count(db, company) -> int:
    db.rollback()
    return db.scalar(select(func.count(User.id)).where(User.company_id == company.id))


def _owner_key(db, creator: User) -> str:
    """A new OWNER-role API key made by ``creator``."""
    from orbitflow.accounts.apikeys import new_raw_key
    from orbitflow.accounts.models import ApiKey
    from orbitflow.security import hash_api_key

    raw = new_raw_key()
    db.add(
        ApiKey(
            company_id=creator.company_id,
            name="Owner key",
            role="OWNER",
            prefix=raw[:10],
            key_hash=hash_api_key(raw),
            created_by_id=creator.id,
        )
    )
    db.commit()
    return raw


@pytest.fixture
def owner_key(team, db):
    """An OWNER-role API key of the team's company, made by its owner."""
    return _owner_key(db, team["OWNER"])


def test_me_describes_the_user_and_company(browser, team):
    me = api(browser(team["MANAGER"]), "GET", "/api/v1/me").json
    assert set(me) >= USER_FIELDS
    assert (me["id"], me["username"], me["role"], me["is_active"]) == (team["MANAGER"].id, "manager", "MANAGER", True)
    assert me["company"] == {
        "id": team.company.id,
        "name": "Acme Rockets",
        "subscription_id": "acme",
        "plan": "PROFESSIONAL",
        "max_users": 50,
        "max_quizzes": 25,
        "is_active": True,
        "phone_region": None,
        "currency": "USD",
        "time_zone": None,
    }
    assert "users.view" in me["permissions"] and "users.manage" not in me["permissions"]
    assert "password_hash" not in me


def test_me_without_credentials_is_401_in_the_error_shape(testapp):
    response = testapp.get("/api/v1/me", status=401)
    assert response.json == {"error": {"code": "unauthorized", "message": "Sign in or send an API key."}}


def test_list_users_with_filters_and_paging(browser, team, make_user, db):
    for number in range(4):
        make_user(team.company, "AGENT", username=f"seller{number}", is_active=number != 3)
    client = browser(team["MANAGER"])
    page = api(client, "GET", "/api/v1/users?per_page=3").json
    assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (9, 1, 3, 3)
    assert set(page["items"][0]) >= USER_FIELDS
    second = api(client, "GET", "/api/v1/users?per_page=3&page=2").json["items"]
    assert {u["id"] for u in second}.isdisjoint({u["id"] for u in page["items"]})
    agents = api(client, "GET", "/api/v1/users?role=AGENT&is_active=true").json
    assert sorted(u["username"] for u in agents["items"]) == ["agent", "seller0", "seller1", "seller2"]
    assert api(client, "GET", "/api/v1/users?q=SELLER3").json["items"][0]["is_active"] is False
    assert api(client, "GET", "/api/v1/users?is_active=false").json["total"] == 1
    bad = api(client, "GET", "/api/v1/users?role=KING", status=400).json["error"]
    assert bad["code"] == "bad_request" and "role" in bad["fields"]
    api(client, "GET", "/api/v1/users?per_page=1000", status=400)
    api(client, "GET", "/api/v1/users?is_active=maybe", status=400)


def test_create_user(browser, team, db):
    client = browser(team["ADMIN"])
    body = {"username": "Dana", "password": NEW_PASSWORD, "role": "AGENT", "email": "Dana@Example.com", "name": "Dana"}
    response = api(client, "POST", "/api/v1/users", body, status=201)
    user = response.json
    assert (user["username"], user["email"], user["role"], user["must_change_password"]) == (
        "dana",
        "Dana@example.com",
        "AGENT",
        False,
    )
    assert response.location.endswith(f"/api/v1/users/{user['id']}")
    assert api(client, "GET", f"/api/v1/users/{user['id']}").json == user
    assert audit_actions(db, team.company.id, "user.") == ["user.create"]


@pytest.mark.parametrize(
    ("body", "status", "fields"),
    [
        ({"password": NEW_PASSWORD, "role": "AGENT"}, 422, {"username"}),
        ({"username": "dana", "password": "short", "role": "AGENT"}, 422, {"password"}),
        ({"username": "dana", "password": NEW_PASSWORD, "role": "KING"}, 422, {"role"}),
        ({"username": "dana", "password": NEW_PASSWORD, "role": "SUPER_ADMIN"}, 422, {"role"}),
        ({"username": "dana", "password": NEW_PASSWORD, "role": "AGENT", "email": "nope"}, 422, {"email"}),
        ({"username": 5, "password": NEW_PASSWORD, "role": "AGENT", "name": ["x"]}, 422, {"username", "name"}),
        ({"username": "dana", "password": NEW_PASSWORD, "role": "AGENT", "is_admin": True}, 422, {"is_admin"}),
        ({"username": "agent", "password": NEW_PASSWORD, "role": "AGENT"}, 409, {"username"}),
        ({"username": "dana", "password": NEW_PASSWORD, "role": "OWNER"}, 403, {"role"}),
    ],
    ids=["no-username", "weak", "role", "super-admin", "email", "types", "unknown", "taken", "owner-by-admin"],
)
def test_create_user_refusals(browser, team, db, body, status, fields):
    client = browser(team["ADMIN"])
    before = _count(db, team.company)
    error = api(client, "POST", "/api/v1/users", body, status=status).json["error"]
    assert set(error["fields"]) == fields
    assert error["message"]
    assert _count(db, team.company) == before
    assert audit_actions(db, team.company.id, "user.") == []


def test_create_user_bad_bodies(browser, team):
    client = browser(team["OWNER"])
    assert api(client, "POST", "/api/v1/users", status=400).json["error"]["code"] == "bad_request"
    response = client.post(
        "/api/v1/users",
        "{not json",
        headers={"Content-Type": "application/json", "X-CSRF-Token": client.cookies["orbitflow_csrf"]},
        status=400,
    )
    assert response.json["error"]["message"] == "The request body is not valid JSON."
    api(client, "POST", "/api/v1/users", [1, 2], status=400)


def test_quota_is_409_with_its_code(browser, team, db):
    team.company.max_users = 5
    db.commit()
    body = {"username": "dana", "password": NEW_PASSWORD, "role": "AGENT"}
    error = api(browser(team["OWNER"]), "POST", "/api/v1/users", body, status=409).json["error"]
    assert error["code"] == "quota_exceeded" and "allows 5 active users" in error["message"]
    assert _count(db, team.company) == 5


def test_patch_user(browser, team, db):
    client = browser(team["OWNER"])
    agent = team["AGENT"]
    user = api(client, "PATCH", f"/api/v1/users/{agent.id}", {"role": "MANAGER", "name": " Alex  Big "}).json
    assert (user["role"], user["name"]) == ("MANAGER", "Alex Big")
    assert audit_rows(db, "user.update")[0].changes == {
        "name": {"from": "Agent User", "to": "Alex Big"},
        "role": {"from": "AGENT", "to": "MANAGER"},
    }
    # A temporary password: the user must change it and is signed out.
    api(client, "PATCH", f"/api/v1/users/{agent.id}", {"password": NEW_PASSWORD}, status=200)
    assert fresh(db, agent).must_change_password is True
    assert audit_actions(db, team.company.id, "user.")[-1] == "user.password_reset"
    # Nothing to change: nothing audited.
    count = len(audit_actions(db, team.company.id))
    api(client, "PATCH", f"/api/v1/users/{agent.id}", {"role": "MANAGER"}, status=200)
    assert len(audit_actions(db, team.company.id)) == count


def test_patch_refusals_change_nothing(browser, team, db):
    client = browser(team["ADMIN"])
    agent, owner = team["AGENT"], team["OWNER"]
    cases = [
        (agent, {"role": "OWNER"}, 403),
        (owner, {"name": "Hacked"}, 403),
        (agent, {"email": "bad"}, 422),
        (agent, {"is_active": "no"}, 422),
        (agent, {"username": "renamed"}, 422),
        (agent, {"password": ""}, 422),
        (agent, {"role": "MANAGER", "password": "short"}, 422),  # all or nothing
        (team["ADMIN"], {"role": "VIEWER"}, 422),  # own role
        (team["ADMIN"], {"is_active": False}, 409),  # own account
    ]
    for target, body, status in cases:
        api(client, "PATCH", f"/api/v1/users/{target.id}", body, status=status)
    db.rollback()
    for user in (agent, owner, team["ADMIN"]):
        assert fresh(db, user).role == user.role
    assert fresh(db, agent).email is None or fresh(db, agent).email != "bad"
    assert fresh(db, owner).name == "Owner User"
    assert all(fresh(db, u).is_active for u in (agent, owner, team["ADMIN"]))
    assert audit_actions(db, team.company.id, "user.") == []


def test_delete_deactivates(browser, team, db):
    client = browser(team["OWNER"])
    viewer = team["VIEWER"]
    response = api(client, "DELETE", f"/api/v1/users/{viewer.id}", status=204)
    assert response.body == b""
    assert fresh(db, viewer).is_active is False
    assert api(client, "GET", f"/api/v1/users/{viewer.id}").json["is_active"] is False
    api(client, "DELETE", f"/api/v1/users/{viewer.id}", status=204)  # already inactive
    assert audit_actions(db, team.company.id, "user.") == ["user.deactivate"]


def test_last_active_owner_cannot_be_demoted_or_deactivated(team, db, testapp, owner_key, make_user):
    owner = team["OWNER"]
    for method, body in (("PATCH", {"role": "ADMIN"}), ("PATCH", {"is_active": False}), ("DELETE", None)):
        error = api(testapp, method, f"/api/v1/users/{owner.id}", body, status=409, headers=bearer(owner_key)).json
        assert error["error"]["code"] == "last_owner"
        assert "last active owner" in error["error"]["message"]
    assert fresh(db, owner).role == "OWNER" and fresh(db, owner).is_active
    # With a second owner, either may go; the second owner then stays.
    second = make_user(team.company, "OWNER", username="second")
    api(testapp, "DELETE", f"/api/v1/users/{owner.id}", status=204, headers=bearer(owner_key))
    # The key acted for the owner it just deactivated: it stops with them.
    api(testapp, "GET", "/api/v1/me", status=401, headers=bearer(owner_key))
    error = api(testapp, "DELETE", f"/api/v1/users/{second.id}", status=409, headers=bearer(_owner_key(db, second)))
    assert error.json["error"]["code"] == "last_owner"


def test_roles_without_users_manage_are_refused(browser, team, db):
    for role in ("MANAGER", "AGENT", "VIEWER"):
        client = browser(team[role])
        body = {"username": "dana", "password": NEW_PASSWORD, "role": "AGENT"}
        assert api(client, "POST", "/api/v1/users", body, status=403).json["error"]["code"] == "forbidden"
        api(client, "PATCH", f"/api/v1/users/{team['VIEWER'].id}", {"name": "x"}, status=403)
        api(client, "DELETE", f"/api/v1/users/{team['VIEWER'].id}", status=403)
    for role in ("AGENT", "VIEWER"):
        error = api(browser(team[role]), "GET", "/api/v1/users", status=403).json["error"]
        assert "users.view" in error["message"]
    assert fresh(db, team["VIEWER"]).name == "Viewer User"


def test_other_companies_users_are_404(browser, team, make_company, make_user, db):
    stranger = make_user(make_company(name="Other Co"), "AGENT", username="stranger")
    client = browser(team["OWNER"])
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        response = api(client, method, f"/api/v1/users/{stranger.id}", body, status=404)
        assert response.json["error"]["code"] == "not_found"
        assert "stranger" not in response.text
    api(client, "GET", "/api/v1/users/not-a-number", status=404)
    assert "stranger" not in api(client, "GET", "/api/v1/users?q=stranger").text
    user = fresh(db, stranger)
    assert user.is_active and user.name == "Agent User"


def test_unsafe_calls_with_the_session_cookie_need_the_csrf_header(browser, team, db):
    client = browser(team["OWNER"])
    body = {"username": "dana", "password": NEW_PASSWORD, "role": "AGENT"}
    error = client.post_json("/api/v1/users", body, status=400).json["error"]
    assert error["code"] == "csrf_failed"
    client.patch_json(f"/api/v1/users/{team['AGENT'].id}", {"role": "VIEWER"}, status=400)
    client.delete(f"/api/v1/users/{team['AGENT'].id}", status=400)
    assert fresh(db, team["AGENT"]).role == "AGENT" and fresh(db, team["AGENT"]).is_active
    assert audit_actions(db, team.company.id, "user.") == []


def test_operations_are_in_the_openapi_document(testapp):
    document = testapp.get("/api/v1/openapi.json").json
    paths = document["paths"]
    assert set(paths["/api/v1/me"]) == {"get"}
    assert set(paths["/api/v1/me/password"]) == {"post"}
    assert set(paths["/api/v1/users"]) == {"get", "post"}
    assert set(paths["/api/v1/users/{id}"]) == {"get", "patch", "delete"}
    schemas = document["components"]["schemas"]
    assert {"User", "UserInput", "UserPatch", "Me", "PasswordChange"} <= set(schemas)
    assert set(schemas["User"]["required"]) == USER_FIELDS
    assert paths["/api/v1/users"]["post"]["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
