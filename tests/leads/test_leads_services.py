"""The leads service functions plugins build on."""

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


def _order(session, stage_id):
    session.expire_all()
    return [
        (lead.name, lead.position)
        for lead in session.scalars(select(Lead).where(Lead.stage_id == stage_id).order_by(Lead.position, Lead.id))
    ]


def test_moves_take_midpoints_then_shift_when_no_room(session, stages, make_lead):
    column = stages[1]
    a, b = make_lead("A", stage=column), make_lead("B", stage=column)
    movers = [make_lead(f"M{index}") for index in range(12)]
    for mover in movers:
        lead = session.get(Lead, mover.id)
        services.move_lead(session, lead, stage_id=column.id, actor_id=None, after_id=a.id)
        session.commit()
    order = _order(session, column.id)
    assert [name for name, _ in order] == ["A", *[f"M{index}" for index in reversed(range(12))], "B"]
    positions = [position for _, position in order]
    assert positions == sorted(set(positions))  # strictly increasing: room was made when needed
    del b


def test_ties_and_a_full_column_are_renumbered(session, stages, make_lead, db):
    from orbitflow.leads.positions import GAP, LIMIT

    column = stages[2]
    a = make_lead("A", stage=column)
    b = make_lead("B", stage=column)
    for lead in (a, b):
        db.get(Lead, lead.id).position = LIMIT - 1  # a tie at the very top of the range
    db.commit()
    mover = session.get(Lead, make_lead("M").id)
    services.move_lead(session, mover, stage_id=column.id, actor_id=None, after_id=b.id)
    session.commit()
    order = _order(session, column.id)
    assert [name for name, _ in order] == ["A", "B", "M"]
    assert [position for _, position in order] == [0, GAP, 2 * GAP]


def test_index_positions_count_only_the_leads_an_agent_sees(session, stages, make_lead, make_user, company):
    from orbitflow.leads.queries import Viewer

    agent, other = make_user(company, "AGENT"), make_user(company, "AGENT")
    column = stages[1]
    make_lead("Hidden 1", stage=column, owner_id=other.id)
    make_lead("Visible", stage=column, owner_id=agent.id)
    make_lead("Hidden 2", stage=column, owner_id=other.id)
    mover = session.get(Lead, make_lead("Mover", owner_id=agent.id).id)
    viewer = Viewer(company.id, agent.id, False)
    services.move_lead(session, mover, stage_id=column.id, actor_id=agent.id, position=1, visible=viewer.clause())
    session.commit()
    names = [name for name, _ in _order(session, column.id)]
    assert names.index("Mover") == names.index("Visible") + 1


def test_merge_keeps_one_lead(session, company, make_lead, db):
    keep = session.get(Lead, make_lead("Keep", email="k@x.io").id)
    other = session.get(Lead, make_lead("Other", email="k@x.io", company_name="Acme", value=5).id)
    assert [lead.id for lead in services.duplicates_of(session, keep)] == [other.id]
    with pytest.raises(services.LeadError):
        services.merge_leads(session, keep, keep, actor_id=None)
    changes = services.merge_leads(session, keep, other, actor_id=None)
    session.commit()
    assert set(changes) >= {"company_name", "value"}
    assert [lead.name for lead in db.scalars(select(Lead))] == ["Keep"]


def test_a_deactivated_owner_may_stay_but_not_be_chosen(session, make_lead, make_user, company, db):
    former = make_user(company, "AGENT")
    lead = session.get(Lead, make_lead("Kept owner", owner_id=former.id).id)
    db.get(type(former), former.id).is_active = False
    db.commit()
    session.expire_all()
    assert services.update_lead(session, lead, {"name": "Renamed", "owner_id": str(former.id)}, actor_id=None)
    session.commit()
    other = session.get(Lead, make_lead("Other").id)
    with pytest.raises(services.LeadError) as caught:
        services.update_lead(session, other, {"owner_id": former.id}, actor_id=None)
    assert "deactivated" in caught.value.fields["owner_id"]
