"""Settings → Pipeline stages: owners and admins add, rename, recolour, mark won or
lost, reorder and remove stages; removing one asks where its leads go."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow.leads.models import Lead, LeadActivity, Stage
from support import csrf_token


@pytest.fixture
def admin_client(testapp, login_as, make_user, company):
    login_as(make_user(company, "ADMIN"))
    return testapp


def _names(db, company):
    db.expire_all()
    return [s.name for s in db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position))]


def test_add_rename_recolour_and_mark_won(admin_client, db, company, stages):
    token = csrf_token(admin_client)
    page = admin_client.get("/pipeline/stages")
    assert "Add a stage" in page.text and all(stage.name in page.text for stage in stages)
    admin_client.post(
        "/pipeline/stages", {"csrf_token": token, "name": "Demo booked", "color": "#a855f7", "kind": "open"}, status=303
    )
    assert _names(db, company)[-1] == "Demo booked"
    clash = admin_client.post(
        "/pipeline/stages", {"csrf_token": token, "name": "demo BOOKED", "kind": "open"}, status=400
    )
    assert "There is already a stage called Demo booked." in clash.text
    bad = admin_client.post(
        f"/pipeline/stages/{stages[3].id}",
        {"csrf_token": token, "name": "Proposal", "color": "blue", "kind": "open"},
        status=400,
    )
    assert "Use a colour like #22c55e." in bad.text
    admin_client.post(
        f"/pipeline/stages/{stages[3].id}",
        {"csrf_token": token, "name": "Offer sent", "color": "#112233", "kind": "won"},
        status=303,
    )
    db.expire_all()
    stage = db.get(Stage, stages[3].id)
    assert (stage.name, stage.color, stage.kind) == ("Offer sent", "#112233", "won")
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "stage.update")).one()
    assert entry.changes["name"] == {"from": "Proposal", "to": "Offer sent"}
    assert "Offer sent" in admin_client.get("/pipeline").text


def test_reorder_with_up_and_down(admin_client, db, company, stages):
    token = csrf_token(admin_client)
    admin_client.post(f"/pipeline/stages/{stages[2].id}/move", {"csrf_token": token, "direction": "up"}, status=303)
    assert _names(db, company)[:3] == ["New", "Qualified", "Contacted"]
    admin_client.post(f"/pipeline/stages/{stages[0].id}/move", {"csrf_token": token, "direction": "up"}, status=303)
    assert _names(db, company)[0] == "New"
    admin_client.post(f"/pipeline/stages/{stages[0].id}/move", {"csrf_token": token, "direction": "down"}, status=303)
    assert _names(db, company)[:3] == ["Qualified", "New", "Contacted"]
    assert db.scalars(select(AuditEntry.action).where(AuditEntry.action == "stage.reorder")).all() == [
        "stage.reorder",
        "stage.reorder",
    ]
    board = admin_client.get("/pipeline").text
    assert board.index('data-stage-name="Qualified"') < board.index('data-stage-name="New"')


def test_remove_asks_where_the_leads_go(admin_client, db, company, stages, make_lead):
    lead_ids = [make_lead(f"In Contacted {index}", stage=stages[1]).id for index in range(2)]
    make_lead("Already Qualified", stage=stages[2])
    token = csrf_token(admin_client)
    confirm = admin_client.get(f"/pipeline/stages/{stages[1].id}/delete")
    assert "holds 2 leads" in confirm.text
    refused = admin_client.post(f"/pipeline/stages/{stages[1].id}/delete", {"csrf_token": token}, status=400)
    assert "choose the stage they move to" in refused.text
    assert "Contacted" in _names(db, company)
    admin_client.post(
        f"/pipeline/stages/{stages[1].id}/delete", {"csrf_token": token, "move_to": stages[1].id}, status=400
    )
    admin_client.post(
        f"/pipeline/stages/{stages[1].id}/delete", {"csrf_token": token, "move_to": stages[2].id}, status=303
    )
    assert "Contacted" not in _names(db, company)
    column = db.scalars(select(Lead).where(Lead.stage_id == stages[2].id).order_by(Lead.position, Lead.id)).all()
    assert [lead.name for lead in column] == ["Already Qualified", "In Contacted 0", "In Contacted 1"]
    assert all(lead.version == 2 for lead in column if lead.id in lead_ids)
    moved = db.scalars(select(LeadActivity).where(LeadActivity.kind == "moved")).all()
    assert {entry.lead_id for entry in moved} == set(lead_ids)
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "stage.delete")).one()
    assert entry.changes["moved_leads"] == {"from": 2, "to": stages[2].id}
    positions = [
        stage.position
        for stage in db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position))
    ]
    assert positions == list(range(5))


def test_an_empty_stage_goes_without_question_but_the_last_one_stays(admin_client, db, company, stages):
    token = csrf_token(admin_client)
    for stage in stages[:-1]:
        admin_client.post(f"/pipeline/stages/{stage.id}/delete", {"csrf_token": token}, status=303)
    assert _names(db, company) == ["Lost"]
    last = admin_client.post(f"/pipeline/stages/{stages[-1].id}/delete", {"csrf_token": token}, status=400)
    assert "at least one stage" in last.text


def test_only_owners_and_admins_manage_stages(testapp, login_as, make_user, company, stages, db):
    login_as(make_user(company, "MANAGER"))
    token = csrf_token(testapp)
    testapp.get("/pipeline/stages", status=403)
    testapp.post("/pipeline/stages", {"csrf_token": token, "name": "Sneaky"}, status=403)
    testapp.post(f"/pipeline/stages/{stages[0].id}/delete", {"csrf_token": token}, status=403)
    assert "Sneaky" not in _names(db, company)
    assert "Manage stages" not in testapp.get("/pipeline").text
