"""/api/v1/admin/companies and /api/v1/admin/companies/{id}/users: the super admin's JSON API."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select

from orbitflow.accounts.models import ApiKey, User
from orbitflow.audit.models import AuditEntry
from orbitflow.leads.models import Lead, Stage
from orbitflow.security import hash_api_key
from orbitflow.tenants.models import Company
from support import csrf_token, login

COMPANY_FIELDS = {"id", "name", "subscription_id", "plan", "max_users", "max_quizzes", "is_active"}
USER_FIELDS = {"id", "username", "name", "email", "role", "is_active"}
NEW_PASSWORD = "Launch-Pad-2026"


def _headers(client) -> dict[str, str]:
    return {"X-CSRF-Token": csrf_token(client)}


def _company(db, slug: str) -> Company | None:
    db.expire_all()
    return db.scalars(select(Company).where(Company.subscription_id == slug)).first()


def _actions(db, company_id: int) -> list[str]:
    db.expire_all()
    return list(db.scalars(select(AuditEntry.action).where(AuditEntry.company_id == company_id)))


def _count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def test_list_companies_with_counts_and_paging(admin_client, acme, acme_owner, make_company, db):
    stage = db.scalars(select(Stage).where(Stage.company_id == acme.id)).first()
    db.add(Lead(company_id=acme.id, name="One", stage_id=stage.id))
    db.commit()
    for number in range(3):
        make_company(name=f"Zeta {number}", subscription_id=f"zeta-{number}", plan="FREE")
    body = admin_client.get("/api/v1/admin/companies", {"per_page": 2}, status=200).json
    assert (body["total"], body["page"], body["per_page"], len(body["items"])) == (5, 1, 2, 2)
    first = body["items"][0]
    assert set(first) >= COMPANY_FIELDS
    assert (first["name"], first["user_count"], first["lead_count"]) == ("Acme Rockets", 1, 1)
    page3 = admin_client.get("/api/v1/admin/companies", {"per_page": 2, "page": 3}).json
    assert [item["name"] for item in page3["items"]] == ["Zeta 2"]
    filtered = admin_client.get("/api/v1/admin/companies", {"q": "zeta", "plan": "FREE"}).json
    assert filtered["total"] == 3
    assert admin_client.get("/api/v1/admin/companies", {"is_active": "false"}).json["total"] == 0


def test_create_company_with_plan_defaults(admin_client, db):
    response = admin_client.post_json(
        "/api/v1/admin/companies",
        {"name": "Globex", "subscription_id": "globex", "plan": "STARTER"},
        headers=_headers(admin_client),
        status=201,
    )
    body = response.json
    company = _company(db, "globex")
    assert response.location.endswith(f"/api/v1/admin/companies/{company.id}")
    assert body == {
        "id": company.id,
        "name": "Globex",
        "subscription_id": "globex",
        "plan": "STARTER",
        "max_users": 10,
        "max_quizzes": 5,
        "is_active": True,
        "phone_region": None,
        "currency": "USD",
        "time_zone": None,
        "user_count": 0,
        "lead_count": 0,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert body["created_at"].endswith("Z")
    assert _actions(db, company.id) == ["company.create"]


def test_create_company_with_quota_overrides(admin_client, db):
    body = admin_client.post_json(
        "/api/v1/admin/companies",
        {"name": "Initech", "subscription_id": "initech", "plan": "FREE", "max_users": 12, "max_quizzes": 0},
        headers=_headers(admin_client),
        status=201,
    ).json
    assert (body["max_users"], body["max_quizzes"]) == (12, 0)


@pytest.mark.parametrize(
    ("body", "status", "fields"),
    [
        ({"subscription_id": "x-co"}, 422, {"name"}),
        ({"name": "X", "subscription_id": "Not OK"}, 422, {"subscription_id"}),
        ({"name": "X", "subscription_id": "x-co", "plan": "GOLD"}, 422, {"plan"}),
        ({"name": "X", "subscription_id": "x-co", "max_users": "ten"}, 422, {"max_users"}),
        ({"name": "X", "subscription_id": "x-co", "max_users": True}, 422, {"max_users"}),
        ({"name": "X", "subscription_id": "x-co", "max_quizzes": -4}, 422, {"max_quizzes"}),
        ({"name": "X", "subscription_id": "x-co", "color": "red"}, 422, {"color"}),
        ({"name": "X", "subscription_id": "acme"}, 409, {"subscription_id"}),
    ],
)
def test_create_company_refuses_bad_input(admin_client, acme, db, body, status, fields):
    before = _count(db, Company)
    error = admin_client.post_json("/api/v1/admin/companies", body, headers=_headers(admin_client), status=status).json[
        "error"
    ]
    assert set(error["fields"]) == fields
    assert error["code"] == {409: "conflict", 422: "invalid"}[status]
    assert _count(db, Company) == before


def test_create_company_needs_a_json_object(admin_client):
    for payload in (b"", b"not json", b"[1, 2]"):
        response = admin_client.post(
            "/api/v1/admin/companies",
            payload,
            headers={**_headers(admin_client), "Content-Type": "application/json"},
            status=400,
        )
        assert response.json["error"]["code"] == "bad_request"


def test_unsafe_calls_with_the_cookie_need_the_csrf_header(admin_client, db):
    admin_client.post_json("/api/v1/admin/companies", {"name": "X", "subscription_id": "no-csrf"}, status=400)
    assert _company(db, "no-csrf") is None


def test_authentication_and_permission(testapp, acme, acme_owner, login_as, db, unchanged):
    new_user = {"username": "sneaky", "password": NEW_PASSWORD, "role": "OWNER"}
    with unchanged():
        assert testapp.get("/api/v1/admin/companies", status=401).json["error"]["code"] == "unauthorized"
        login_as(acme_owner)
        assert testapp.get("/api/v1/admin/companies", status=403).json["error"]["code"] == "forbidden"
        testapp.get(f"/api/v1/admin/companies/{acme.id}", status=403)
        for call in (
            lambda: testapp.post_json(
                "/api/v1/admin/companies",
                {"name": "X", "subscription_id": "x-co"},
                headers=_headers(testapp),
                status=403,
            ),
            lambda: testapp.patch_json(
                f"/api/v1/admin/companies/{acme.id}", {"plan": "ENTERPRISE"}, headers=_headers(testapp), status=403
            ),
            lambda: testapp.delete(f"/api/v1/admin/companies/{acme.id}", headers=_headers(testapp), status=403),
            lambda: testapp.post_json(
                f"/api/v1/admin/companies/{acme.id}/users", new_user, headers=_headers(testapp), status=403
            ),
        ):
            assert call().json["error"]["code"] == "forbidden"
        testapp.get(f"/api/v1/admin/companies/{acme.id}/users", status=403)
    company = _company(db, "acme")
    assert (company.plan, company.is_active) == ("STARTER", True)
    assert _company(db, "x-co") is None and _count(db, User) == 1


def test_company_api_key_cannot_reach_the_admin_api(testapp, acme, acme_owner, db):
    raw = secrets.token_urlsafe(32)
    owner_id = acme_owner.id
    db.add(
        ApiKey(
            company_id=acme.id,
            name="ci",
            role="OWNER",
            prefix=raw[:8],
            key_hash=hash_api_key(raw),
            created_by_id=owner_id,
        )
    )
    db.commit()
    testapp.get("/api/v1/admin/companies", headers={"Authorization": f"Bearer {raw}"}, status=403)


def test_get_patch_and_unknown_company(admin_client, acme, db):
    body = admin_client.get(f"/api/v1/admin/companies/{acme.id}", status=200).json
    assert (body["subscription_id"], body["user_count"]) == ("acme", 0)
    assert admin_client.get("/api/v1/admin/companies/999999", status=404).json["error"]["code"] == "not_found"
    admin_client.patch_json("/api/v1/admin/companies/999999", {"name": "X"}, headers=_headers(admin_client), status=404)

    changed = admin_client.patch_json(
        f"/api/v1/admin/companies/{acme.id}", {"plan": "PROFESSIONAL"}, headers=_headers(admin_client), status=200
    ).json
    # STARTER's default quotas follow the plan to PROFESSIONAL's.
    assert (changed["plan"], changed["max_users"], changed["max_quizzes"]) == ("PROFESSIONAL", 50, 25)
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "company.update")).one()
    assert entry.changes["max_users"] == {"from": 10, "to": 50}

    changed = admin_client.patch_json(
        f"/api/v1/admin/companies/{acme.id}",
        {"max_users": 7, "name": "Acme 2"},
        headers=_headers(admin_client),
        status=200,
    ).json
    assert (changed["name"], changed["max_users"], changed["plan"]) == ("Acme 2", 7, "PROFESSIONAL")
    # An overridden quota stays when the plan changes; null brings back the plan's default.
    changed = admin_client.patch_json(
        f"/api/v1/admin/companies/{acme.id}",
        {"plan": "ENTERPRISE", "max_quizzes": None},
        headers=_headers(admin_client),
        status=200,
    ).json
    assert (changed["max_users"], changed["max_quizzes"]) == (7, 500)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": None}, 422, "name"),
        ({"plan": "GOLD"}, 422, "plan"),
        ({"is_active": "no"}, 422, "is_active"),
        ({"subscription_id": "taken"}, 409, "subscription_id"),
        ({"max_users": 0}, 422, "max_users"),  # the company has an active user
        ({"id": 5}, 422, "id"),
    ],
)
def test_patch_refuses_bad_input_and_changes_nothing(
    admin_client, acme, acme_owner, make_company, db, body, status, field
):
    make_company(subscription_id="taken")
    error = admin_client.patch_json(
        f"/api/v1/admin/companies/{acme.id}", body, headers=_headers(admin_client), status=status
    ).json["error"]
    assert field in error["fields"]
    company = _company(db, "acme")
    assert (company.name, company.plan, company.max_users, company.is_active) == ("Acme Rockets", "STARTER", 10, True)
    assert "company.update" not in _actions(db, acme.id)


def test_delete_deactivates_and_patch_reactivates(admin_client, acme, acme_owner, another_client, db):
    owner_client = another_client()
    login(owner_client, acme_owner)
    body = admin_client.delete(f"/api/v1/admin/companies/{acme.id}", headers=_headers(admin_client), status=200).json
    assert body["is_active"] is False
    assert _company(db, "acme") is not None and _company(db, "acme").is_active is False
    owner_client.get("/api/v1/me", status=401)  # the owner's session ended
    admin_client.delete(f"/api/v1/admin/companies/{acme.id}", headers=_headers(admin_client), status=200)
    assert _actions(db, acme.id).count("company.deactivate") == 1  # repeating it is harmless
    body = admin_client.patch_json(
        f"/api/v1/admin/companies/{acme.id}", {"is_active": True}, headers=_headers(admin_client), status=200
    ).json
    assert body["is_active"] is True
    assert "company.reactivate" in _actions(db, acme.id)


def test_list_and_create_company_users(admin_client, acme, acme_owner, make_user, make_company, db):
    make_user(acme, "AGENT", username="alex", is_active=False)
    make_user(make_company(name="Other"), "OWNER", username="stranger")
    body = admin_client.get(f"/api/v1/admin/companies/{acme.id}/users", status=200).json
    assert [user["username"] for user in body["items"]] == ["alex", "olivia"]
    assert set(body["items"][0]) >= USER_FIELDS
    assert "password_hash" not in body["items"][0]
    assert admin_client.get(f"/api/v1/admin/companies/{acme.id}/users", {"is_active": "true"}).json["total"] == 1
    assert admin_client.get(f"/api/v1/admin/companies/{acme.id}/users", {"role": "AGENT"}).json["total"] == 1
    assert admin_client.get(f"/api/v1/admin/companies/{acme.id}/users", {"q": "oliv"}).json["total"] == 1

    created = admin_client.post_json(
        f"/api/v1/admin/companies/{acme.id}/users",
        {"username": "Boss", "password": NEW_PASSWORD, "role": "OWNER", "email": "boss@example.com", "name": "Bea"},
        headers=_headers(admin_client),
        status=201,
    ).json
    assert {key: created[key] for key in USER_FIELDS - {"id"}} == {
        "username": "boss",
        "name": "Bea",
        "email": "boss@example.com",
        "role": "OWNER",
        "is_active": True,
    }
    assert created["must_change_password"] is False
    user = db.get(User, created["id"])
    assert user.company_id == acme.id
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "user.create")).one()
    assert (entry.company_id, entry.target_id, entry.actor_name) == (acme.id, str(user.id), "root")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"password": NEW_PASSWORD, "role": "AGENT"}, 422, "username"),
        ({"username": "new", "role": "AGENT"}, 422, "password"),
        ({"username": "new", "password": "short", "role": "AGENT"}, 422, "password"),
        ({"username": "new", "password": NEW_PASSWORD, "role": "SUPER_ADMIN"}, 422, "role"),
        ({"username": "new", "password": NEW_PASSWORD, "role": "AGENT", "email": "nope"}, 422, "email"),
        ({"username": "new", "password": NEW_PASSWORD, "role": "AGENT", "admin": True}, 422, "admin"),
        ({"username": "olivia", "password": NEW_PASSWORD, "role": "AGENT"}, 409, "username"),
    ],
)
def test_create_user_refuses_bad_input(admin_client, acme, acme_owner, db, body, status, field):
    before = _count(db, User)
    error = admin_client.post_json(
        f"/api/v1/admin/companies/{acme.id}/users", body, headers=_headers(admin_client), status=status
    ).json["error"]
    assert field in error["fields"]
    assert _count(db, User) == before


def test_create_user_over_the_quota_is_409(admin_client, make_company, make_user, db):
    tiny = make_company(name="Tiny", plan="FREE", max_users=1)
    make_user(tiny, "OWNER")
    error = admin_client.post_json(
        f"/api/v1/admin/companies/{tiny.id}/users",
        {"username": "extra", "password": NEW_PASSWORD, "role": "AGENT"},
        headers=_headers(admin_client),
        status=409,
    ).json["error"]
    assert error["code"] == "quota_exceeded"
    assert "allows 1 active user" in error["message"]


def test_users_of_an_unknown_company_are_404(admin_client, db, unchanged):
    with unchanged():
        admin_client.get("/api/v1/admin/companies/999999/users", status=404)
        admin_client.post_json(
            "/api/v1/admin/companies/999999/users",
            {"username": "x1", "password": NEW_PASSWORD, "role": "AGENT"},
            headers=_headers(admin_client),
            status=404,
        )
    assert db.scalars(select(User.username)).all() == ["root"]


def test_bad_paging_parameters_are_400(admin_client):
    assert admin_client.get("/api/v1/admin/companies", {"page": "zero"}, status=400).json["error"]["fields"] == {
        "page": "Use a whole number."
    }
    admin_client.get("/api/v1/admin/companies", {"per_page": 1000}, status=400)
    admin_client.get("/api/v1/admin/companies", {"is_active": "maybe"}, status=400)
