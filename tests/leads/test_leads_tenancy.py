"""One company's lead cannot be moved into another company's stage, nor given to another
company's user: through the API, the lead's page, the board's move and bulk actions. Every
refusal is a 4xx with the field named, and the database is read back unchanged."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orbitflow.leads.models import Lead, Stage
from support import csrf_token


@pytest.fixture
def rival(make_company, make_user, db):
    """Another company, with its stages and an active owner."""
    company = make_company(name="Rival Co")
    user = make_user(company, "OWNER", username="rita")
    stages = list(db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)))
    return company, user, stages


@pytest.fixture
def owner_api(api, login_as, owner):
    return api(login_as(owner))


def test_api_patch_and_move_refuse_another_companys_stage_and_user(owner_api, make_lead, rival, db, unchanged):
    lead = make_lead("Ours")
    _, rita, their_stages = rival
    with unchanged():
        refused = owner_api.patch(
            f"/api/v1/leads/{lead.id}", {"version": 1, "stage_id": their_stages[1].id}, status=422
        )
        assert refused.json["error"]["fields"] == {"stage_id": "Choose one of the company's stages."}
        refused = owner_api.patch(f"/api/v1/leads/{lead.id}", {"version": 1, "owner_id": rita.id}, status=422)
        assert refused.json["error"]["fields"] == {"owner_id": "Choose one of the company's users."}
        refused = owner_api.post(
            f"/api/v1/leads/{lead.id}/move", {"stage_id": their_stages[1].id, "position": 0, "version": 1}, status=422
        )
        assert refused.json["error"]["fields"] == {"stage_id": "Choose one of the company's stages."}
        for body in ({"name": "New", "stage_id": their_stages[0].id}, {"name": "New", "owner_id": rita.id}):
            owner_api.post("/api/v1/leads", body, status=422)
    db.expire_all()
    stored = db.get(Lead, lead.id)
    assert (stored.stage_id, stored.owner_id, stored.version) == (lead.stage_id, None, 1)


def _edit_fields(token: str, lead: Lead, **changes) -> dict[str, str]:
    fields = {
        "csrf_token": token,
        "version": str(lead.version),
        "name": lead.name,
        "email": "",
        "phone": "",
        "company_name": "",
        "value": "",
        "source": "manual",
        "stage_id": str(lead.stage_id),
        "owner_id": "",
        "tags": "",
    }
    return {**fields, **changes}


@pytest.mark.parametrize(
    ("field", "message"),
    [("stage_id", "Choose one of the company&#39;s stages."), ("owner_id", "Choose one of the company&#39;s users.")],
)
def test_lead_page_refuses_another_companys_stage_and_user(
    testapp, login_as, owner, make_lead, rival, db, unchanged, field, message
):
    login_as(owner)
    lead = make_lead("Ours")
    _, rita, their_stages = rival
    foreign = str(their_stages[1].id if field == "stage_id" else rita.id)
    with unchanged():
        page = testapp.post(
            f"/leads/{lead.id}", _edit_fields(csrf_token(testapp), lead, name="Renamed", **{field: foreign}), status=400
        )
    # The form comes back with what was typed and the reason by the field.
    form = next(form for form in page.forms.values() if form.action.endswith(f"/leads/{lead.id}"))
    assert form["name"].value == "Renamed"
    assert message in page.text
    db.expire_all()
    assert db.get(Lead, lead.id).name == "Ours"


@pytest.mark.parametrize("action", ["move", "assign"])
def test_bulk_actions_refuse_another_companys_stage_and_user(
    testapp, login_as, owner, make_lead, rival, db, unchanged, action
):
    login_as(owner)
    leads = [make_lead("One"), make_lead("Two")]
    _, rita, their_stages = rival
    fields = {
        "csrf_token": csrf_token(testapp),
        "action": action,
        "ids": [str(lead.id) for lead in leads],
        "stage_id": str(their_stages[1].id),
        "owner_id": str(rita.id),
        "confirm": "yes",
    }
    with unchanged():
        page = testapp.post("/leads/bulk", fields, status=303).follow()
    expected = "Choose one of the company's stages." if action == "move" else "Choose one of the company's users."
    assert [flash.get_text() for flash in page.html.find_all(class_="flash")] == [expected]
    db.expire_all()
    assert [(lead.stage_id, lead.owner_id) for lead in db.scalars(select(Lead).order_by(Lead.id))] == [
        (lead.stage_id, None) for lead in leads
    ]


def test_another_companys_stage_cannot_be_changed_through_the_api(owner_api, rival, unchanged):
    _, _, their_stages = rival
    with unchanged():
        owner_api.patch(f"/api/v1/stages/{their_stages[0].id}", {"name": "Ours now"}, status=404)
        owner_api.delete(f"/api/v1/stages/{their_stages[0].id}", status=404)
