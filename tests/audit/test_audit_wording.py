"""The audit log reads like a sentence: a move names both stages, people are named instead
of ``user #8``, order keys are left out, and the action filter is a list of known actions."""

from __future__ import annotations

import re

from sqlalchemy import select

from orbitflow.leads.models import Lead, Stage
from support import csrf_token


def _text(element) -> str:
    return re.sub(r"\s+", " ", element.get_text(" ")).strip()


def test_a_move_names_the_stages_and_people_without_positions(testapp, login_as, make_company, make_user, db):
    company = make_company(name="Words Co")
    owner = make_user(company, "OWNER", username="olga", name="Olga Owner")
    agent = make_user(company, "AGENT", username="arne", name="Arne Agent")
    stages = db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)).all()
    lead = Lead(company_id=company.id, name="Moved Mona", stage_id=stages[2].id, position=0)
    db.add(lead)
    db.commit()
    login_as(owner)
    headers = {"X-CSRF-Token": csrf_token(testapp)}
    testapp.post_json(
        f"/api/v1/leads/{lead.id}/move", {"stage_id": stages[3].id, "version": 1}, headers=headers, status=200
    )
    testapp.patch_json(f"/api/v1/leads/{lead.id}", {"version": 2, "owner_id": agent.id}, headers=headers, status=200)
    testapp.post(f"/settings/users/{agent.id}/deactivate", {"csrf_token": csrf_token(testapp)}, status=303)

    page = testapp.get("/audit", status=200)
    table = page.html.find("table", class_="audit")
    rows = {_text(row.find_all("td")[2]): row for row in table.tbody.find_all("tr")}
    move = _text(rows["lead.move"])
    assert f"moved from {stages[2].name} to {stages[3].name}" in move
    assert "lead Moved Mona" in move
    assert "position" not in _text(table) and "stage_id" not in _text(table)
    update = _text(rows["lead.update"])
    assert "owner" in update and "Arne Agent" in update and "owner_id" not in update
    assert "user Arne Agent" in _text(rows["user.deactivate"])
    assert "user #" not in _text(table)

    action = page.html.select_one("select#f-action")
    values = [option["value"] for option in action.find_all("option")]
    assert values[0] == "" and "lead.move" in values and "lead.*" in values and "user.deactivate" in values
    narrowed = testapp.get("/audit", {"action": "lead.move"}, status=200)
    assert narrowed.html.select_one("select#f-action option[selected]")["value"] == "lead.move"
    assert [_text(r.find_all("td")[2]) for r in narrowed.html.find("table", class_="audit").tbody.find_all("tr")] == [
        "lead.move"
    ]


def test_dashboard_activity_uses_the_same_words(testapp, login_as, make_company, make_user, db):
    company = make_company(name="Dash Words")
    owner = make_user(company, "OWNER", username="dora", name="Dora Dash")
    stages = db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)).all()
    lead = Lead(company_id=company.id, name="Dashing Dan", stage_id=stages[0].id, position=0)
    db.add(lead)
    db.commit()
    login_as(owner)
    headers = {"X-CSRF-Token": csrf_token(testapp)}
    testapp.post_json(
        f"/api/v1/leads/{lead.id}/move", {"stage_id": stages[1].id, "version": 1}, headers=headers, status=200
    )
    page = testapp.get("/dashboard", status=200)
    row = page.html.find("table", attrs={"aria-label": "Recent activity"}).tbody.find("tr")
    assert f"moved from {stages[0].name} to {stages[1].name}" in _text(row)
    assert "lead Dashing Dan" in _text(row) and f"lead {lead.id}" not in _text(row)
