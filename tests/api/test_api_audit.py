"""GET /api/v1/audit: the company's entries, every company's for super admins."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pytest

from orbitflow.accounts.models import ApiKey
from orbitflow.audit.services import record
from orbitflow.security import hash_api_key
from support import csrf_token

DAY = datetime(2026, 3, 10, 12, 0)


@pytest.fixture
def beta(make_company):
    return make_company(name="Beta Corp", subscription_id="beta")


@pytest.fixture
def history(db, acme, acme_owner, beta):
    def add(company, action, minutes, **fields):
        entry = record(db, action, company_id=company.id, **fields)
        entry.created_at = DAY + timedelta(minutes=minutes)

    add(acme, "lead.create", 0, actor_id=acme_owner.id, actor_name="olivia", target_type="lead", target_id=1)
    add(
        acme,
        "lead.update",
        1,
        actor_id=acme_owner.id,
        actor_name="olivia",
        target_type="lead",
        target_id=1,
        changes={"name": {"from": "A", "to": "B"}},
    )
    add(beta, "lead.create", 2, actor_name="bob", target_type="lead", target_id=2)
    db.commit()


def _key(db, creator, role: str = "OWNER") -> str:
    raw = secrets.token_urlsafe(32)
    db.add(
        ApiKey(
            company_id=creator.company_id,
            name="reports",
            role=role,
            prefix=raw[:8],
            key_hash=hash_api_key(raw),
            created_by_id=creator.id,
        )
    )
    db.commit()
    return raw


def test_owner_reads_the_company_entries_only(testapp, login_as, acme_owner, history):
    login_as(acme_owner)
    body = testapp.get("/api/v1/audit", {"until": "2026-03-31"}, status=200).json
    assert body["total"] == 2 and body["page"] == 1 and body["per_page"] == 25
    newest = body["items"][0]
    assert newest == {
        "id": newest["id"],
        "company_id": acme_owner.company_id,
        "actor_id": acme_owner.id,
        "actor_name": "olivia",
        "impersonator_id": None,
        "action": "lead.update",
        "target_type": "lead",
        "target_id": "1",
        "changes": {"name": {"from": "A", "to": "B"}},
        "ip": None,
        "user_agent": None,
        "created_at": "2026-03-10T12:01:00Z",
    }
    # Naming another company changes nothing: its entries are never shown.
    other = testapp.get("/api/v1/audit", {"company_id": 999, "actor": "bob"}).json
    assert other["total"] == 0


def test_filters_and_paging(testapp, login_as, acme_owner, history):
    login_as(acme_owner)
    assert testapp.get("/api/v1/audit", {"action": "lead.create"}).json["total"] == 1
    assert testapp.get("/api/v1/audit", {"action": "lead.*", "per_page": 1}).json["items"][0]["action"] == (
        "lead.update"
    )
    page2 = testapp.get("/api/v1/audit", {"action": "lead.*", "per_page": 1, "page": 2}).json
    assert [item["action"] for item in page2["items"]] == ["lead.create"]
    assert testapp.get("/api/v1/audit", {"actor_id": acme_owner.id, "until": "2026-03-10"}).json["total"] == 2
    assert testapp.get("/api/v1/audit", {"target_type": "lead", "target_id": "1"}).json["total"] == 2
    assert testapp.get("/api/v1/audit", {"since": "2026-03-11", "until": "2026-03-31"}).json["total"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [({"since": "last week"}, "since"), ({"actor_id": "olivia"}, "actor_id"), ({"page": "0"}, "page")],
)
def test_bad_filters_are_400_by_field(testapp, login_as, acme_owner, params, field):
    login_as(acme_owner)
    error = testapp.get("/api/v1/audit", params, status=400).json["error"]
    assert field in error["fields"]


def test_super_admin_reads_every_company(admin_client, history, acme, beta):
    body = admin_client.get("/api/v1/audit", {"action": "lead.*"}).json
    assert [(item["company_id"], item["actor_name"]) for item in body["items"]] == [
        (beta.id, "bob"),
        (acme.id, "olivia"),
        (acme.id, "olivia"),
    ]
    only_beta = admin_client.get("/api/v1/audit", {"company_id": beta.id}).json
    assert [item["actor_name"] for item in only_beta["items"]] == ["bob"]


def test_api_key_reads_its_company(testapp, db, acme_owner, history):
    raw = _key(db, acme_owner)
    body = testapp.get("/api/v1/audit", {"action": "lead.*"}, headers={"Authorization": f"Bearer {raw}"}).json
    assert body["total"] == 2


@pytest.mark.parametrize("role", ["MANAGER", "AGENT", "VIEWER"])
def test_roles_without_audit_view_are_refused(testapp, login_as, acme, make_user, db, role):
    user = make_user(acme, role)
    login_as(user)
    assert testapp.get("/api/v1/audit", status=403).json["error"]["code"] == "forbidden"
    testapp.get("/api/v1/audit", headers={"Authorization": f"Bearer {_key(db, user, role)}"}, status=403)


def test_anonymous_and_bad_keys_get_401(testapp):
    assert testapp.get("/api/v1/audit", status=401).json["error"]["code"] == "unauthorized"
    testapp.get("/api/v1/audit", headers={"Authorization": "Bearer not-a-key"}, status=401)


def test_the_audit_api_only_reads(admin_client, history):
    headers = {"X-CSRF-Token": csrf_token(admin_client)}
    for method in ("post_json", "put_json", "patch_json", "delete_json"):
        response = getattr(admin_client, method)("/api/v1/audit", {}, headers=headers, expect_errors=True)
        assert response.status_int in (404, 405)
