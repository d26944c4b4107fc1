"""The leads service functions plugins build on (the quiz plugin creates leads with them)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow.db import bind_company, make_session_factory
from orbitflow.leads import services
from orbitflow.leads.models import Lead, LeadActivity
from orbitflow.leads.positions import GAP


@pytest.fixture
def session(backend, company):
    session = make_session_factory(backend.engine)()
    bind_company(session, company.id)
    yield session
    session.close()


def test_create_lead_normalises_and_records(session, db, company, stages, owner):
    lead = services.create_lead(
        session,
        company_id=company.id,
        actor_id=None,
        name="  Ada Lovelace ",
        email="Ada@Example.COM",
        phone="(415) 555-0132",
        phone_region="US",
        value="1,250.5",
        source="quiz",
        owner_id=owner.id,
        tags="VIP, Newsletter ,vip",
        utm={"utm_source": "facebook", "campaign": "spring"},
        referrer="https://fb.com/ad",
        consent=True,
        audit_info=services.AuditInfo(actor_name="quiz:plans", ip="10.1.1.1"),
    )
    session.commit()
    stored = db.get(Lead, lead.id)
    assert stored.name == "Ada Lovelace"
    assert stored.email == "ada@example.com"
    assert stored.phone == "+14155550132"
    assert stored.value == Decimal("1250.50")
    assert stored.stage_id == stages[0].id
    assert stored.tags == ["newsletter", "vip"]
    assert (stored.utm_source, stored.utm_campaign) == ("facebook", "spring")
    assert stored.consent and stored.consent_at is not None
    assert stored.version == 1
    kinds = db.scalars(select(LeadActivity.kind).where(LeadActivity.lead_id == lead.id)).all()
    assert kinds == ["created"]
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "lead.create")).one()
    assert entry.target_id == str(lead.id) and entry.actor_name == "quiz:plans" and entry.ip == "10.1.1.1"
    assert entry.changes["email"] == {"from": None, "to": "ada@example.com"}


def test_create_lead_reports_every_bad_field(session, company):
    with pytest.raises(services.LeadError) as caught:
        services.create_lead(
            session,
            company_id=company.id,
            actor_id=None,
            name=" ",
            email="nope",
            phone="12",
            value="ten",
            source="fax",
        )
    assert set(caught.value.fields) == {"name", "email", "phone", "value", "source"}


def test_new_leads_go_on_top_and_find_by_email(session, company, stages):
    first = services.create_lead(session, company_id=company.id, actor_id=None, name="First", email="a@x.io")
    second = services.create_lead(session, company_id=company.id, actor_id=None, name="Second")
    session.commit()
    assert second.position == first.position - GAP
    assert services.find_lead_by_email(session, " A@X.io ").id == first.id
    assert services.find_lead_by_email(session, "b@x.io") is None
    assert services.find_lead_by_email(session, "not an email") is None


def test_add_activity_for_quiz_answers(session, db, company):
    lead = services.create_lead(session, company_id=company.id, actor_id=None, name="Quiz taker", source="quiz")
    services.add_activity(session, lead, "quiz", {"quiz": "Plans", "answers": [{"question": "Q", "answer": "A"}]})
    session.commit()
    row = db.scalars(select(LeadActivity).where(LeadActivity.kind == "quiz")).one()
    assert row.data["answers"][0]["answer"] == "A"


def test_update_lead_with_stale_version_is_refused(session, company, make_lead):
    lead = make_lead("Old")
    lead = session.get(Lead, lead.id)
    with pytest.raises(services.StaleLead):
        services.update_lead(session, lead, {"name": "New"}, actor_id=None, expected_version=lead.version + 1)
    changed = services.update_lead(
        session, lead, {"name": "New", "tags": ["a"]}, actor_id=None, expected_version=lead.version
    )
    session.commit()
    assert set(changed) == {"name", "tags"}
    assert lead.version == 2
