"""JSON bodies are typed field by field by the OpenAPI document's request schemas.

Each bad body below once was stored wrongly or answered 500; now each is refused with 422,
names the field with a message for it, and changes nothing in the database (read back
through the tests' own session).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from orbitflow.accounts.models import ApiKey
from orbitflow.audit.models import AuditEntry
from orbitflow.leads.models import Lead, LeadNote, Stage
from orbitflow.security import hash_api_key
from support import csrf_token

KEY = "of_" + "b" * 40
HUGE = "10000000000000000000000000"  # 10^25: beyond every id column


@pytest.fixture
def company(make_company):
    return make_company(name="Typed Co")


@pytest.fixture
def owner(make_user, company):
    return make_user(company, "OWNER", username="olivia")


@pytest.fixture
def bearer(db, company, owner) -> dict[str, str]:
    db.add(
        ApiKey(
            company_id=company.id,
            name="tests",
            role="OWNER",
            prefix=KEY[:8],
            key_hash=hash_api_key(KEY),
            created_by_id=owner.id,
        )
    )
    db.commit()
    return {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


@pytest.fixture
def lead(db, company) -> Lead:
    stage = db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)).first()
    row = Lead(company_id=company.id, name="Ada", stage_id=stage.id, position=0, phone="+442079460958")
    db.add(row)
    db.commit()
    return row


def snapshot(db, company_id: int) -> dict:
    """What a bad request must leave as it was."""
    db.expire_all()
    leads = db.execute(
        select(Lead.id, Lead.name, Lead.phone, Lead.value, Lead.stage_id, Lead.owner_id, Lead.position, Lead.version)
        .where(Lead.company_id == company_id)
        .order_by(Lead.id)
    ).all()
    stages = db.execute(
        select(Stage.id, Stage.name, Stage.position).where(Stage.company_id == company_id).order_by(Stage.id)
    ).all()
    return {
        "leads": [tuple(row) for row in leads],
        "stages": [tuple(row) for row in stages],
        "notes": db.scalar(select(func.count()).select_from(LeadNote)),
        "audit": db.scalar(select(func.count()).select_from(AuditEntry)),
    }


# (method, path, exact JSON text, field, message). {lead} and {stage} are filled in with
# the company's lead and first stage; the bodies are sent byte for byte as written.
BAD_BODIES = [
    ("POST", "/api/v1/leads", '{"name": ["a", "b"]}', "name", "Use text."),
    ("PATCH", "/api/v1/leads/{lead}", '{"name": ["a", "b"], "version": 1}', "name", "Use text."),
    ("POST", "/api/v1/leads/{lead}/notes", '{"body": ["a", "b"]}', "body", "Use text."),
    ("POST", "/api/v1/stages", '{"name": 5}', "name", "Use text."),
    ("PATCH", "/api/v1/stages/{stage}", '{"name": 5}', "name", "Use text."),
    ("POST", "/api/v1/leads", '{"name": "Ada", "stage_id": 7.9}', "stage_id", "Use a whole number."),
    ("PATCH", "/api/v1/leads/{lead}", '{"stage_id": 7.9, "version": 1}', "stage_id", "Use a whole number."),
    ("POST", "/api/v1/leads/{lead}/move", '{"stage_id": 7.9, "version": 1}', "stage_id", "Use a whole number."),
    ("POST", "/api/v1/leads/{lead}/move", '{"stage_id": {stage}.0, "version": 1}', "stage_id", "Use a whole number."),
    (
        "POST",
        "/api/v1/leads/{lead}/move",
        '{"stage_id": ' + HUGE + ', "version": 1}',
        "stage_id",
        "Use a number from 1 to 9223372036854775807.",
    ),
    (
        "POST",
        "/api/v1/leads/{lead}/move",
        '{"stage_id": {stage}, "position": ' + HUGE + ', "version": 1}',
        "position",
        "Use a number from 0 to 2147483647.",
    ),
    (
        "POST",
        "/api/v1/leads/{lead}/move",
        '{"stage_id": {stage}, "position": -1, "version": 1}',
        "position",
        "Use a number from 0 to 2147483647.",
    ),
    (
        "POST",
        "/api/v1/leads",
        '{"name": "Ada", "owner_id": ' + HUGE + "}",
        "owner_id",
        "Use a number from 1 to 9223372036854775807.",
    ),
    (
        "PATCH",
        "/api/v1/leads/{lead}",
        '{"owner_id": ' + HUGE + ', "version": 1}',
        "owner_id",
        "Use a number from 1 to 9223372036854775807.",
    ),
    (
        "PATCH",
        "/api/v1/stages/{stage}",
        '{"position": ' + HUGE + "}",
        "position",
        "Use a number from 0 to 2147483647.",
    ),
    ("POST", "/api/v1/leads", '{"name": "Ada", "value": true}', "value", "Use a number or null."),
    (
        "POST",
        "/api/v1/leads",
        '{"name": "Ada", "phone": "020 7946 0958", "phone_region": 44}',
        "phone_region",
        "Use text.",
    ),
    (
        "POST",
        "/api/v1/leads",
        '{"name": "Ada", "phone": "020 7946 0958", "phone_region": ["GB"]}',
        "phone_region",
        "Use text.",
    ),
    (
        "PATCH",
        "/api/v1/leads/{lead}",
        '{"phone": "020 7946 0958", "phone_region": 44, "version": 1}',
        "phone_region",
        "Use text.",
    ),
    ("PATCH", "/api/v1/leads/{lead}", '{"name": "Ada", "version": "1"}', "version", "Use a whole number."),
    ("POST", "/api/v1/leads", '{"name": "Ada", "tags": "hot"}', "tags", "Use a list."),
    ("POST", "/api/v1/leads", '{"name": "Ada", "utm": {"source": 3}}', "utm.source", "Use text or null."),
    ("POST", "/api/v1/leads", '{"name": "' + "x" * 201 + '"}', "name", "Use at most 200 characters."),
    ("POST", "/api/v1/leads", "{}", "name", "Required."),
]


# What cannot be read as JSON text is refused before the schema, by the decoding step
# (orbitflow.web.decoding): 400 with a message for the whole body.
UNREADABLE_BODIES = [
    ("POST", "/api/v1/leads", '{"name": "Ada\\u0000Lovelace"}', "A JSON string holds a NUL character (\\u0000)."),
    (
        "POST",
        "/api/v1/leads/{lead}/notes",
        '{"body": "call\\u0000back"}',
        "A JSON string holds a NUL character (\\u0000).",
    ),
    ("POST", "/api/v1/stages", '{"name": "Won\\u0000"}', "A JSON string holds a NUL character (\\u0000)."),
    ("POST", "/api/v1/leads", '{"name": "Ada", "value": 1e400}', "The number 1e400 is too large for JSON."),
    ("PATCH", "/api/v1/leads/{lead}", '{"value": -1e400, "version": 1}', "The number -1e400 is too large for JSON."),
]


def _fill(template: str, lead: Lead, stage_id: int) -> str:
    return template.replace("{lead}", str(lead.id)).replace("{stage}", str(stage_id))


@pytest.mark.parametrize(("method", "path", "body", "field", "message"), BAD_BODIES)
def test_bad_body_is_refused_by_field_and_changes_nothing(
    testapp, db, company, bearer, lead, method, path, body, field, message
):
    stage_id = lead.stage_id
    before = snapshot(db, company.id)
    answer = testapp.request(
        _fill(path, lead, stage_id),
        method=method,
        body=_fill(body, lead, stage_id).encode(),
        headers=bearer,
        status="*",
    )
    assert answer.status_int == 422, answer.text
    error = answer.json["error"]
    assert error["code"] == "invalid"
    assert error["fields"][field] == message
    assert field in error["message"]
    assert snapshot(db, company.id) == before


@pytest.mark.parametrize(("method", "path", "body", "message"), UNREADABLE_BODIES)
def test_unreadable_body_is_refused_and_changes_nothing(
    testapp, db, company, bearer, lead, method, path, body, message
):
    stage_id = lead.stage_id
    before = snapshot(db, company.id)
    url, text = _fill(path, lead, stage_id), _fill(body, lead, stage_id)
    answer = testapp.request(url, method=method, body=text.encode(), headers=bearer, status="*")
    assert answer.status_int == 400, answer.text
    assert answer.json == {"error": {"code": "bad_request", "message": message}}
    assert snapshot(db, company.id) == before


def test_the_board_move_refuses_a_fractional_stage_with_the_session(testapp, db, company, owner, lead, login_as):
    # The board's script posts the move with the session cookie and the CSRF header.
    login_as(owner)
    before = snapshot(db, company.id)
    answer = testapp.post(
        f"/api/v1/leads/{lead.id}/move",
        '{"stage_id": 7.9, "position": 0, "version": 1}',
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf_token(testapp)},
        status=422,
    )
    assert answer.json["error"]["fields"] == {"stage_id": "Use a whole number."}
    assert snapshot(db, company.id) == before


def test_every_bad_field_is_named_at_once(testapp, db, company, bearer, lead):
    body = '{"name": ["a"], "email": "x@", "value": -5, "stage_id": 7.9, "consent": "yes", "unknown": 1}'
    error = testapp.post("/api/v1/leads", body, headers=bearer, status=422).json["error"]
    assert error["fields"] == {
        "name": "Use text.",
        "email": "Enter an e-mail address like name@example.com (with a domain after the @, such as example.com).",
        "value": "Use a number from 0 to 999999999999.99.",
        "stage_id": "Use a whole number.",
        "consent": "Use true or false.",
    }
    assert error["message"] == "Check these fields: consent, email, name, stage_id, value."


def test_validation_runs_after_the_permission_and_csrf_checks(
    testapp, another_client, db, company, owner, make_user, login_as, lead
):
    # Neither a viewer, nor a page without the CSRF token, nor a stranger gets the body checked.
    json = {"Content-Type": "application/json"}
    viewer = login_as(make_user(company, "VIEWER"), another_client())
    refused = viewer.post(
        "/api/v1/leads", '{"name": 5}', headers={**json, "X-CSRF-Token": csrf_token(viewer)}, status=403
    )
    assert refused.json["error"]["code"] == "forbidden"
    login_as(owner)
    assert testapp.post("/api/v1/leads", '{"name": 5}', headers=json, status=400).json["error"]["code"] == "csrf_failed"
    assert another_client().post("/api/v1/leads", '{"name": 5}', headers=json, status=401).json["error"]["code"]


def test_a_good_body_still_goes_through_with_its_values(testapp, db, company, bearer, lead):
    created = testapp.post(
        "/api/v1/leads",
        '{"name": "Grace", "value": 1200.5, "phone": "020 7946 0958", "phone_region": "GB", "tags": ["hot"]}',
        headers=bearer,
        status=201,
    ).json
    db.expire_all()
    row = db.get(Lead, created["id"])
    assert (row.name, float(row.value), row.phone, row.tags) == ("Grace", 1200.5, "+442079460958", ["hot"])


def test_other_tenants_rows_are_not_revealed_by_a_bad_body(testapp, db, make_company, make_user, bearer, lead):
    # A bad body to another company's lead gets the same 422 as to a lead that does not exist.
    other = make_company(name="Other Co")
    stage = db.scalars(select(Stage).where(Stage.company_id == other.id)).first()
    theirs = Lead(company_id=other.id, name="Theirs", stage_id=stage.id, position=0)
    db.add(theirs)
    db.commit()
    on_theirs = testapp.patch(f"/api/v1/leads/{theirs.id}", '{"name": 5, "version": 1}', headers=bearer, status=422)
    on_nothing = testapp.patch("/api/v1/leads/999999999", '{"name": 5, "version": 1}', headers=bearer, status=422)
    assert on_theirs.json == on_nothing.json
    testapp.patch(f"/api/v1/leads/{theirs.id}", '{"name": "Mine", "version": 1}', headers=bearer, status=404)
    db.expire_all()
    assert db.get(Lead, theirs.id).name == "Theirs"
