"""Lead capture: many leads at once, in the caller's transaction (the quiz plugin's path)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from orbitflow.audit.models import AuditEntry
from orbitflow.leads.capture import NewLead, capture_leads
from orbitflow.leads.models import Lead, LeadActivity, Stage
from orbitflow.leads.services import LeadError


def capture(backend, company_id: int, leads: list[NewLead], **options):
    with backend.engine.begin() as connection:
        return capture_leads(connection, company_id, leads, actor_name="quiz:test", **options)


def count(db, model, **where) -> int:
    db.expire_all()
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return db.scalar(query)


def test_captured_leads_go_on_top_of_the_first_open_stage_with_timeline_and_audit(
    backend, db, company, stages, make_lead
):
    existing = make_lead("Already here", stage=stages[0])
    captured = capture(
        backend,
        company.id,
        [
            NewLead(name="  Ada Lovelace ", email="Ada@Example.COM", utm={"source": "facebook"}, consent=True),
            NewLead(name="Grace Hopper", phone="+1 415 555 0132", referrer="https://tiktok.com/ad"),
        ],
        user_agents=["Mozilla/5.0 (Ada)", None],
    )
    assert [lead.created for lead in captured] == [True, True]
    db.expire_all()
    ada, grace = (db.get(Lead, lead.id) for lead in captured)
    assert (ada.name, ada.email, ada.utm_source, ada.consent, ada.consent_at is not None) == (
        "Ada Lovelace",
        "ada@example.com",
        "facebook",
        True,
        True,
    )
    assert (grace.phone, grace.referrer, grace.source) == ("+14155550132", "https://tiktok.com/ad", "quiz")
    assert ada.stage_id == grace.stage_id == stages[0].id
    # As if created one after the other: the last one on top, both above the older card.
    column = db.scalars(select(Lead.name).where(Lead.stage_id == stages[0].id).order_by(Lead.position, Lead.id)).all()
    assert column == ["Grace Hopper", "Ada Lovelace", existing.name]
    for lead in (ada, grace):
        kinds = db.scalars(select(LeadActivity.kind).where(LeadActivity.lead_id == lead.id)).all()
        assert kinds == ["created"]
    entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "lead.create").order_by(AuditEntry.id)).all()
    assert [(entry.target_id, entry.actor_name, entry.company_id) for entry in entries] == [
        (str(ada.id), "quiz:test", company.id),
        (str(grace.id), "quiz:test", company.id),
    ]
    assert entries[0].changes["email"] == {"from": None, "to": "ada@example.com"}
    assert entries[0].user_agent == "Mozilla/5.0 (Ada)" and entries[1].user_agent is None


def test_the_first_open_stage_is_used_when_the_first_stage_is_not_open(backend, db, company, stages):
    db.get(Stage, stages[0].id).kind = "won"
    db.commit()
    [lead] = capture(backend, company.id, [NewLead(name="Lin")])
    assert lead.stage_id == stages[1].id


def test_reuse_by_email_joins_the_oldest_lead_and_creates_one_per_new_address(backend, db, company, make_lead):
    older = make_lead("Old Ada", email="ada@example.com")
    make_lead("Newer Ada", email="ada@example.com")
    captured = capture(
        backend,
        company.id,
        [
            NewLead(name="Ada again", email="ADA@example.com"),
            NewLead(name="Bob", email="bob@example.com"),
            NewLead(name="Bob twice", email="bob@example.com"),
            NewLead(name="No address"),
            NewLead(name="No address either"),
        ],
        reuse_by_email=True,
    )
    assert captured[0].id == older.id and not captured[0].created
    assert captured[1].created and captured[2].id == captured[1].id and not captured[2].created
    assert captured[3].created and captured[4].created and captured[3].id != captured[4].id
    assert count(db, Lead) == 2 + 3
    assert count(db, AuditEntry, action="lead.create") == 3


def test_without_reuse_every_lead_is_created(backend, db, company, make_lead):
    make_lead("Ada", email="ada@example.com")
    captured = capture(backend, company.id, [NewLead(name="Ada", email="ada@example.com")])
    assert captured[0].created
    assert count(db, Lead, email="ada@example.com") == 2


def test_a_lead_of_another_company_is_never_reused(backend, db, company, make_company, make_lead):
    make_lead("Ours", email="ada@example.com")
    other = make_company(name="Other Co")
    [lead] = capture(backend, other.id, [NewLead(name="Theirs", email="ada@example.com")], reuse_by_email=True)
    assert lead.created
    db.expire_all()
    assert db.get(Lead, lead.id).company_id == other.id
    assert db.get(Stage, lead.stage_id).company_id == other.id


def test_bad_input_names_every_field_and_writes_nothing(backend, db, company):
    with pytest.raises(LeadError) as error:
        capture(
            backend,
            company.id,
            [NewLead(name="Fine", email="fine@example.com"), NewLead(name=" ", email="not-an-address", phone="12")],
        )
    assert set(error.value.fields) == {"name", "email", "phone"}
    assert count(db, Lead) == 0
    assert count(db, AuditEntry) == 0


def test_a_company_without_stages_is_refused(backend, db, company, stages):
    for stage in stages:
        db.delete(db.get(Stage, stage.id))
    db.commit()
    with pytest.raises(LeadError, match="no pipeline stages"):
        capture(backend, company.id, [NewLead(name="Nowhere")])


def test_timeline_lines_can_be_left_to_the_caller(backend, db, company):
    lines: list[dict] = []
    [lead] = capture(backend, company.id, [NewLead(name="Deferred")], timeline=lines)
    assert [(line["lead_id"], line["kind"]) for line in lines] == [(lead.id, "created")]
    assert count(db, LeadActivity) == 0
