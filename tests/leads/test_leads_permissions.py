"""Who sees and changes which leads: agents their own and unassigned ones, viewers read
only, deleting and assigning to others need their permissions, other companies 404."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orbitflow.leads.models import Lead, Stage
from support import csrf_token


@pytest.fixture
def team(company, make_user, owner):
    return {
        "owner": owner,
        "agent": make_user(company, "AGENT", username="alex", name="Alex Agent"),
        "other_agent": make_user(company, "AGENT", username="sam", name="Sam Seller"),
        "viewer": make_user(company, "VIEWER", username="vic", name="Vic Viewer"),
        "manager": make_user(company, "MANAGER", username="maya", name="Maya Manager"),
    }


@pytest.fixture
def leads(team, make_lead, stages):
    return {
        "mine": make_lead("Mine Lead", owner_id=team["agent"].id, stage=stages[1]),
        "free": make_lead("Free Lead", stage=stages[1]),
        "theirs": make_lead("Theirs Lead", owner_id=team["other_agent"].id, stage=stages[1]),
    }


def _headers(client):
    return {"X-CSRF-Token": csrf_token(client)}


def test_agent_sees_only_own_and_unassigned_leads(testapp, login_as, team, leads, stages):
    login_as(team["agent"])
    board = testapp.get("/pipeline").text
    assert "Mine Lead" in board and "Free Lead" in board and "Theirs Lead" not in board
    assert 'data-count="2"' in board
    listing = testapp.get("/leads").text
    assert "Mine Lead" in listing and "Free Lead" in listing and "Theirs Lead" not in listing
    assert "Theirs Lead" not in testapp.get("/leads?owner=" + str(team["other_agent"].id)).text
    api_names = {item["name"] for item in testapp.get("/api/v1/leads").json["items"]}
    assert api_names == {"Mine Lead", "Free Lead"}
    column = testapp.get(f"/pipeline/column/{stages[1].id}").text
    assert "Theirs Lead" not in column and "Mine Lead" in column
    theirs = leads["theirs"].id
    testapp.get(f"/leads/{theirs}", status=404)
    testapp.get(f"/pipeline/card/{theirs}", status=404)
    testapp.get(f"/api/v1/leads/{theirs}", status=404)
    headers = _headers(testapp)
    testapp.post(f"/leads/{theirs}", {"csrf_token": headers["X-CSRF-Token"], "name": "X", "version": 1}, status=404)
    testapp.post(f"/leads/{theirs}/notes", {"csrf_token": headers["X-CSRF-Token"], "body": "x"}, status=404)
    testapp.patch_json(f"/api/v1/leads/{theirs}", {"name": "X", "version": 1}, headers=headers, status=404)
    testapp.post_json(
        f"/api/v1/leads/{theirs}/move", {"stage_id": stages[0].id, "version": 1}, headers=headers, status=404
    )


def test_agent_moves_and_takes_but_cannot_give_away(db, testapp, login_as, team, leads, stages):
    login_as(team["agent"])
    headers = _headers(testapp)
    free = leads["free"]
    moved = testapp.post_json(
        f"/api/v1/leads/{free.id}/move", {"stage_id": stages[2].id, "version": 1}, headers=headers
    ).json
    assert moved["stage_id"] == stages[2].id
    taken = testapp.patch_json(
        f"/api/v1/leads/{free.id}", {"owner_id": team["agent"].id, "version": 2}, headers=headers
    ).json
    assert taken["owner_id"] == team["agent"].id
    refused = testapp.patch_json(
        f"/api/v1/leads/{free.id}", {"owner_id": team["other_agent"].id, "version": 3}, headers=headers, status=403
    ).json
    assert "leads.assign" in refused["error"]["message"]
    created = testapp.post_json("/api/v1/leads", {"name": "Own new"}, headers=headers, status=201).json
    assert created["owner_id"] is None
    testapp.post_json(
        "/api/v1/leads", {"name": "Gift", "owner_id": team["other_agent"].id}, headers=headers, status=403
    )
    testapp.delete(f"/api/v1/leads/{free.id}", headers=headers, status=403)
    testapp.get(f"/leads/{free.id}/delete", status=403)
    db.expire_all()
    assert db.get(Lead, free.id).owner_id == team["agent"].id


def test_agent_bulk_action_skips_leads_they_cannot_see(db, testapp, login_as, team, leads):
    login_as(team["agent"])
    token = csrf_token(testapp)
    ids = [leads["mine"].id, leads["theirs"].id]
    testapp.post(
        "/leads/bulk", {"csrf_token": token, "action": "tag", "tag": "hot", "ids": ids, "confirm": "yes"}, status=303
    )
    db.expire_all()
    assert db.get(Lead, leads["mine"].id).tags == ["hot"]
    assert db.get(Lead, leads["theirs"].id).tags == []


def test_viewer_reads_but_changes_nothing(db, testapp, login_as, team, leads, stages):
    login_as(team["viewer"])
    board = testapp.get("/pipeline").text
    assert "Theirs Lead" in board and 'data-can-edit="0"' in board and "kbtn" not in board
    page = testapp.get(f"/leads/{leads['free'].id}").text
    assert "<fieldset disabled>" in page
    headers = _headers(testapp)
    token = headers["X-CSRF-Token"]
    lead_id = leads["free"].id
    testapp.post(f"/leads/{lead_id}", {"csrf_token": token, "name": "Changed", "version": 1}, status=403)
    testapp.post_json(
        f"/api/v1/leads/{lead_id}/move", {"stage_id": stages[0].id, "version": 1}, headers=headers, status=403
    )
    testapp.patch_json(f"/api/v1/leads/{lead_id}", {"name": "X", "version": 1}, headers=headers, status=403)
    testapp.post_json("/api/v1/leads", {"name": "New"}, headers=headers, status=403)
    testapp.get("/leads/new", status=403)
    testapp.get("/leads/import", status=403)
    testapp.get("/leads/export.csv", status=403)
    testapp.get("/pipeline/stages", status=403)
    testapp.post(
        "/leads/bulk", {"csrf_token": token, "action": "delete", "ids": [lead_id], "confirm": "yes"}, status=403
    )
    db.expire_all()
    assert db.get(Lead, lead_id).name == "Free Lead"
    assert db.get(Lead, lead_id).stage_id == stages[1].id


def test_manager_assigns_and_deletes_but_does_not_manage_stages(db, testapp, login_as, team, leads):
    login_as(team["manager"])
    headers = _headers(testapp)
    lead = leads["theirs"]
    body = testapp.patch_json(
        f"/api/v1/leads/{lead.id}", {"owner_id": team["agent"].id, "version": 1}, headers=headers
    ).json
    assert body["owner_id"] == team["agent"].id
    testapp.delete(f"/api/v1/leads/{lead.id}", headers=headers, status=204)
    testapp.get("/pipeline/stages", status=403)


def test_another_company_lead_is_404_on_every_page(db, testapp, login_as, owner, make_company):
    other = make_company(name="Elsewhere")
    stage = db.scalars(select(Stage).where(Stage.company_id == other.id)).first()
    theirs = Lead(company_id=other.id, name="Their Secret", stage_id=stage.id, position=0)
    db.add(theirs)
    db.commit()
    login_as(owner)
    token = csrf_token(testapp)
    for url in (
        f"/leads/{theirs.id}",
        f"/pipeline/card/{theirs.id}",
        f"/leads/{theirs.id}/delete",
        f"/pipeline/column/{stage.id}",
        f"/pipeline/stages/{stage.id}/delete",
    ):
        testapp.get(url, status=404)
    testapp.post(f"/leads/{theirs.id}", {"csrf_token": token, "name": "X", "version": 1}, status=404)
    testapp.post(f"/leads/{theirs.id}/delete", {"csrf_token": token}, status=404)
    testapp.post(f"/pipeline/stages/{stage.id}", {"csrf_token": token, "name": "Mine now"}, status=404)
    assert "Their Secret" not in testapp.get("/leads?q=secret").text
    assert "Their Secret" not in testapp.get("/leads/export.csv").text
    db.expire_all()
    assert db.get(Lead, theirs.id).name == "Their Secret"
    assert db.get(Stage, stage.id).company_id == other.id


def test_pages_need_a_signed_in_user(testapp, leads):
    assert testapp.get("/pipeline", status=302).location.startswith("http://localhost/login")
    testapp.get("/api/v1/leads", status=401)
    testapp.get(f"/api/v1/leads/{leads['free'].id}", status=401)
