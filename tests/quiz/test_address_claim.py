"""One lead per address when two submissions race: the transaction that claims the
address second yields to the lead the first one committed, whichever lead is older."""

from __future__ import annotations

from datetime import timedelta

import pytest
from quizkit import TEST_SECRET
from sqlalchemy import func, select

from orbitflow.db import bind_company, make_session_factory
from orbitflow.leads.models import Lead
from orbitflow.leads.services import create_lead
from orbitflow.models.meta import utcnow
from orbitflow_plugins.quiz.submissions import AddressTaken, claim_contact

EMAIL = "racer@example.com"


def new_lead(session, company_id: int, **fields) -> Lead:
    return create_lead(
        session, company_id=company_id, actor_id=None, name="Racer", email=EMAIL, source="quiz", **fields
    )


def test_the_second_claim_yields_even_when_its_lead_is_older(backend, db, company):
    factory = make_session_factory(backend.engine)
    first, second = factory(), factory()
    for session in (first, second):
        bind_company(session, company.id)
    try:
        # The second request stamped its lead before the first one did, but claims the
        # address after the first committed.
        lead = new_lead(first, company.id)
        claim_contact(first, TEST_SECRET, company.id, EMAIL, lead.id)
        first.commit()
        older = new_lead(second, company.id, created_at=utcnow() - timedelta(minutes=1))
        with pytest.raises(AddressTaken):
            claim_contact(second, TEST_SECRET, company.id, EMAIL, older.id)
        second.rollback()
    finally:
        first.close()
        second.close()
    leads = db.scalar(select(func.count()).select_from(Lead).where(Lead.company_id == company.id, Lead.email == EMAIL))
    assert leads == 1


def test_a_claim_with_no_other_lead_goes_through(backend, db, company):
    session = make_session_factory(backend.engine)()
    bind_company(session, company.id)
    try:
        lead = new_lead(session, company.id)
        claim_contact(session, TEST_SECRET, company.id, EMAIL, lead.id)
        session.commit()
    finally:
        session.close()
    assert db.scalar(select(func.count()).select_from(Lead).where(Lead.email == EMAIL)) == 1
