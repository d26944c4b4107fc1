"""The leads and stages JSON API: list, create, get, patch with version, delete, move."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pluggy import PluginManager
from sqlalchemy import select

from orbitflow import hookimpl
from orbitflow.accounts.models import ApiKey
from orbitflow.audit.models import AuditEntry
from orbitflow.leads.models import Lead, LeadActivity, Stage
from orbitflow.security import hash_api_key
from orbitflow.shared import shared

# The lead fields the public API contract promises integrators.
LEAD_CONTRACT_FIELDS = {
    "id",
    "name",
    "email",
    "phone",
    "company_name",
    "value",
    "source",
    "tags",
    "stage_id",
    "owner_id",
    "position",
    "version",
    "created_at",
    "updated_at",
}


@pytest.fixture
def owner_api(api, login_as, owner):
    login_as(owner)
    return api()


def test_list_searches_filters_and_pages(owner_api, make_lead, stages, owner):
    make_lead("Ada Lovelace", email="ada@engines.io", company_name="Engines", tags=["vip"], owner_id=owner.id)
    make_lead("Grace Hopper", phone="+14155550100", stage=stages[1], source="quiz")
    make_lead("Alan Turing", company_name="Bletchley")
    items = owner_api.get("/api/v1/leads").json
    assert items["total"] == 3 and items["page"] == 1 and items["per_page"] == 25
    assert set(items["items"][0]) >= LEAD_CONTRACT_FIELDS

    def names(**params):
        return sorted(item["name"] for item in owner_api.get("/api/v1/leads", **params).json["items"])

    assert names(q="engines") == ["Ada Lovelace"]
    assert names(q="bletch") == ["Alan Turing"]
    assert names(q="415 555") == ["Grace Hopper"]
    assert names(stage_id=stages[1].id) == ["Grace Hopper"]
    assert names(source="quiz") == ["Grace Hopper"]
    assert names(tag="vip") == ["Ada Lovelace"]
    assert names(owner_id=owner.id) == ["Ada Lovelace"]
    assert names(owner_id="none") == ["Alan Turing", "Grace Hopper"]
    assert names(q="zz%_") == []
    page = owner_api.get("/api/v1/leads", per_page=2, page=2, sort="name").json
    assert [item["name"] for item in page["items"]] == ["Grace Hopper"] and page["total"] == 3
    error = owner_api.get("/api/v1/leads", status=400, source="fax").json["error"]
    assert error["code"] == "bad_request" and "source" in error["fields"]
    owner_api.get("/api/v1/leads", status=400, per_page=1000)


def test_create_normalises_audits_and_notifies(owner_api, db, stages, owner, wsgi_app):
    heard = []

    class Listener:
        @hookimpl
        def lead_created(self, event):
            heard.append(event)

    pm = shared(wsgi_app.registry, PluginManager)
    listener = Listener()
    pm.register(listener)
    try:
        created = owner_api.post(
            "/api/v1/leads",
            {
                "name": "Ada",
                "email": "ADA@Example.com",
                "phone": "020 7946 0958",
                "phone_region": "GB",
                "value": 1200.5,
                "tags": ["Hot", "hot"],
                "utm": {"source": "tiktok"},
                "consent": True,
            },
            status=201,
        ).json
    finally:
        pm.unregister(listener)
    assert created["email"] == "ada@example.com"
    assert created["phone"] == "+442079460958"
    assert created["value"] == 1200.5
    assert created["tags"] == ["hot"]
    assert created["source"] == "api"
    assert created["stage_id"] == stages[0].id
    assert created["version"] == 1
    assert created["created_at"].endswith("Z")
    stored = db.get(Lead, created["id"])
    assert stored.value == Decimal("1200.50") and stored.utm_source == "tiktok" and stored.consent_at
    assert db.scalars(
        select(AuditEntry.action).where(AuditEntry.target_type == "lead", AuditEntry.target_id == str(created["id"]))
    ).all() == ["lead.create"]
    assert [event.lead_id for event in heard] == [created["id"]]


def test_create_refuses_bad_fields_with_nothing_stored(owner_api, db):
    error = owner_api.post("/api/v1/leads", {"name": "", "email": "x@", "value": -5}, status=422).json["error"]
    assert set(error["fields"]) == {"name", "email", "value"}
    owner_api.post("/api/v1/leads", {"name": "X", "stage_id": 999999}, status=422)
    owner_api.client.post("/api/v1/leads", "not json", headers=owner_api._headers(), status=400)
    assert db.scalars(select(Lead)).all() == []


def test_unsafe_calls_without_csrf_header_are_refused(testapp, login_as, owner, make_lead, db):
    lead = make_lead("Kept")
    login_as(owner)
    testapp.post_json("/api/v1/leads", {"name": "Sneaky"}, status=400)
    testapp.patch_json(f"/api/v1/leads/{lead.id}", {"name": "Changed", "version": 1}, status=400)
    testapp.post_json(f"/api/v1/leads/{lead.id}/move", {"stage_id": lead.stage_id, "version": 1}, status=400)
    db.expire_all()
    assert [row.name for row in db.scalars(select(Lead))] == ["Kept"]


def test_bearer_api_key_needs_no_csrf(testapp, db, company, owner, stages):
    db.add(
        ApiKey(
            company_id=company.id,
            name="zapier",
            role="ADMIN",
            prefix="of_test",
            key_hash=hash_api_key("k" * 40),
            created_by_id=owner.id,
        )
    )
    db.commit()
    headers = {"Authorization": "Bearer " + "k" * 40}
    created = testapp.post_json("/api/v1/leads", {"name": "From Zapier"}, headers=headers, status=201).json
    assert testapp.get(f"/api/v1/leads/{created['id']}", headers=headers).json["name"] == "From Zapier"
    testapp.get("/api/v1/leads", status=401)


def test_patch_with_version_and_stale_version(owner_api, make_lead, db, stages, owner, wsgi_app):
    lead = make_lead("Before", tags=["a"])
    heard = []

    class Listener:
        @hookimpl
        def lead_updated(self, event):
            heard.append(("updated", event.changes))

        @hookimpl
        def lead_moved(self, event):
            heard.append(("moved", event.previous_stage_id, event.stage_id))

    pm = shared(wsgi_app.registry, PluginManager)
    listener = Listener()
    pm.register(listener)
    try:
        body = owner_api.patch(
            f"/api/v1/leads/{lead.id}",
            {"version": 1, "name": "After", "tags": ["a", "b"], "stage_id": stages[2].id, "owner_id": owner.id},
        ).json
        assert body["name"] == "After" and body["version"] == 2 and body["tags"] == ["a", "b"]
        assert body["stage_id"] == stages[2].id and body["owner_id"] == owner.id
        stale = owner_api.patch(f"/api/v1/leads/{lead.id}", {"version": 1, "name": "Lost"}, status=409).json
        assert stale["error"]["code"] == "conflict"
        owner_api.patch(f"/api/v1/leads/{lead.id}", {"name": "No version"}, status=422)
        owner_api.patch(f"/api/v1/leads/{lead.id}", {"version": 2, "email": "bad"}, status=422)
    finally:
        pm.unregister(listener)
    db.expire_all()
    stored = db.get(Lead, lead.id)
    assert stored.name == "After" and stored.version == 2
    kinds = sorted(db.scalars(select(LeadActivity.kind).where(LeadActivity.lead_id == lead.id)))
    assert kinds == ["assigned", "edited", "moved"]
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "lead.update")).one()
    assert entry.changes["name"] == {"from": "Before", "to": "After"}
    assert entry.changes["tags"] == {"from": ["a"], "to": ["a", "b"]}
    assert heard[0][0] == "updated" and heard[1] == ("moved", stages[0].id, stages[2].id)


def test_delete_needs_the_permission_and_is_audited(
    api, login_as, another_client, make_user, company, owner, make_lead, db, wsgi_app
):
    lead_id = make_lead("Doomed").id
    agent = make_user(company, "AGENT")
    agent_api = api(login_as(agent))
    heard = []

    class Listener:
        @hookimpl
        def lead_deleted(self, event):
            heard.append(event)

    pm = shared(wsgi_app.registry, PluginManager)
    listener = Listener()
    pm.register(listener)
    try:
        agent_api.delete(f"/api/v1/leads/{lead_id}", status=403)
        assert heard == []
        owner_client = api(login_as(owner, another_client()))
        owner_client.delete(f"/api/v1/leads/{lead_id}", status=204)
    finally:
        pm.unregister(listener)
    # Plugins hear of it once, with the lead's fields as they were.
    [event] = heard
    assert (event.company_id, event.lead_id, event.actor_id, event.lead["name"]) == (
        company.id,
        lead_id,
        owner.id,
        "Doomed",
    )
    db.expire_all()
    assert db.get(Lead, lead_id) is None
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "lead.delete")).one()
    assert entry.target_id == str(lead_id) and entry.changes["name"] == {"from": "Doomed", "to": None}
    owner_client.get(f"/api/v1/leads/{lead_id}", status=404)


def test_move_places_the_card_and_refuses_a_stale_version(owner_api, make_lead, stages, db):
    a, b, c = (make_lead(name, stage=stages[1]) for name in "ABC")
    mover = make_lead("M")
    body = owner_api.post(
        f"/api/v1/leads/{mover.id}/move", {"stage_id": stages[1].id, "position": 1, "version": 1}
    ).json
    assert body["stage_id"] == stages[1].id and body["version"] == 2

    def column():
        db.expire_all()
        return [
            lead.name
            for lead in db.scalars(select(Lead).where(Lead.stage_id == stages[1].id).order_by(Lead.position, Lead.id))
        ]

    assert column() == ["A", "M", "B", "C"]
    owner_api.post(f"/api/v1/leads/{mover.id}/move", {"stage_id": stages[1].id, "after_id": c.id, "version": 2})
    assert column() == ["A", "B", "C", "M"]
    owner_api.post(f"/api/v1/leads/{mover.id}/move", {"stage_id": stages[1].id, "before_id": a.id, "version": 3})
    assert column() == ["M", "A", "B", "C"]
    owner_api.post(f"/api/v1/leads/{mover.id}/move", {"stage_id": stages[1].id, "position": 99, "version": 4})
    assert column() == ["A", "B", "C", "M"]
    error = owner_api.post(f"/api/v1/leads/{mover.id}/move", {"stage_id": stages[2].id, "version": 1}, status=409).json[
        "error"
    ]
    assert "changed by someone else" in error["message"]
    assert column() == ["A", "B", "C", "M"]
    owner_api.post(f"/api/v1/leads/{mover.id}/move", {"stage_id": "x", "version": 5}, status=422)
    owner_api.post(f"/api/v1/leads/{mover.id}/move", {"stage_id": 999999, "version": 5}, status=422)
    owner_api.post(f"/api/v1/leads/{mover.id}/move", {"stage_id": stages[1].id}, status=422)
    moves = db.scalars(select(AuditEntry).where(AuditEntry.action == "lead.move")).all()
    assert len(moves) == 4
    assert moves[0].changes["stage_id"] == {"from": stages[0].id, "to": stages[1].id}
    del b


def test_notes_and_activity(owner_api, make_lead):
    lead = make_lead("Noted")
    owner_api.post(f"/api/v1/leads/{lead.id}/notes", {"body": "Called, call back Friday"}, status=201)
    owner_api.post(f"/api/v1/leads/{lead.id}/notes", {"body": "  "}, status=422)
    notes = owner_api.get(f"/api/v1/leads/{lead.id}/notes").json
    assert [note["body"] for note in notes] == ["Called, call back Friday"]
    assert [entry["kind"] for entry in owner_api.get(f"/api/v1/leads/{lead.id}/activity").json] == ["note"]


def test_another_company_lead_is_404_everywhere(owner_api, make_company, db):
    other = make_company(name="Other")
    stage = db.scalars(select(Stage).where(Stage.company_id == other.id)).first()
    theirs = Lead(company_id=other.id, name="Secret", stage_id=stage.id, position=0)
    db.add(theirs)
    db.commit()
    owner_api.get(f"/api/v1/leads/{theirs.id}", status=404)
    owner_api.patch(f"/api/v1/leads/{theirs.id}", {"version": 1, "name": "Hacked"}, status=404)
    owner_api.post(f"/api/v1/leads/{theirs.id}/move", {"stage_id": stage.id, "version": 1}, status=404)
    owner_api.post(f"/api/v1/leads/{theirs.id}/notes", {"body": "x"}, status=404)
    owner_api.get(f"/api/v1/leads/{theirs.id}/activity", status=404)
    owner_api.delete(f"/api/v1/leads/{theirs.id}", status=404)
    assert owner_api.get("/api/v1/leads").json["total"] == 0
    # Their stage cannot take our leads either.
    mine = owner_api.post("/api/v1/leads", {"name": "Mine", "stage_id": stage.id}, status=422)
    assert "stage_id" in mine.json["error"]["fields"]
    db.expire_all()
    assert db.get(Lead, theirs.id).name == "Secret"


def test_stages_api(api, login_as, another_client, owner, make_user, company, stages, make_lead, db):
    client = api(login_as(owner))
    listed = client.get("/api/v1/stages").json["items"]
    assert [stage["name"] for stage in listed] == ["New", "Contacted", "Qualified", "Proposal", "Won", "Lost"]
    assert {"id", "name", "position", "kind"} <= set(listed[0])
    created = client.post("/api/v1/stages", {"name": "Negotiation", "kind": "open", "position": 4}, status=201).json
    names = [stage["name"] for stage in client.get("/api/v1/stages").json["items"]]
    assert names.index("Negotiation") == 4
    client.post("/api/v1/stages", {"name": "negotiation"}, status=422)
    client.post("/api/v1/stages", {"name": "X", "color": "red"}, status=422)
    patched = client.patch(
        f"/api/v1/stages/{created['id']}", {"name": "Negotiating", "kind": "won", "color": "#112233"}
    ).json
    assert (patched["name"], patched["kind"], patched["color"]) == ("Negotiating", "won", "#112233")
    make_lead("Stuck", stage=db.get(Stage, created["id"]))
    refused = client.delete(f"/api/v1/stages/{created['id']}", status=422).json["error"]
    assert "move_to" in refused["fields"]
    client.delete(f"/api/v1/stages/{created['id']}?move_to={stages[0].id}", status=204)
    db.expire_all()
    assert db.scalars(select(Lead.stage_id)).all() == [stages[0].id]
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "stage")).all()
    assert sorted(actions) == ["stage.create", "stage.delete", "stage.update"]
    manager = make_user(company, "MANAGER")
    manager_client = api(login_as(manager, another_client()))
    manager_client.get("/api/v1/stages")
    manager_client.post("/api/v1/stages", {"name": "Nope"}, status=403)


def test_openapi_documents_the_leads_api(testapp):
    document = testapp.get("/api/v1/openapi.json").json
    paths = document["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/leads"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/leads/{id}"])
    assert "post" in paths["/api/v1/leads/{id}/move"]
    assert "get" in paths["/api/v1/stages"]
    schema = document["components"]["schemas"]["Lead"]["properties"]
    assert set(schema) >= LEAD_CONTRACT_FIELDS


def test_lead_moved_is_announced_after_commit_only(owner_api, make_lead, stages, wsgi_app):
    lead = make_lead("Announced")
    heard = []

    class Listener:
        @hookimpl
        def lead_moved(self, event):
            heard.append((event.lead_id, event.previous_stage_id, event.stage_id, event.actor_id))

    pm = shared(wsgi_app.registry, PluginManager)
    listener = Listener()
    pm.register(listener)
    try:
        owner_api.post(f"/api/v1/leads/{lead.id}/move", {"stage_id": stages[3].id, "version": 1})
        owner_api.post(f"/api/v1/leads/{lead.id}/move", {"stage_id": stages[4].id, "version": 1}, status=409)
    finally:
        pm.unregister(listener)
    assert [entry[:3] for entry in heard] == [(lead.id, stages[0].id, stages[3].id)]
