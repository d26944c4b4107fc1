"""``initializedb --demo`` fills the demo company with believable leads, the same each time."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, select

from orbitflow.leads.demo import create_demo_leads
from orbitflow.leads.models import Lead, LeadActivity, LeadTag

NOW = datetime(2026, 11, 1, 12, 0)


def _leads(db, company):
    return db.scalars(select(Lead).where(Lead.company_id == company.id).order_by(Lead.id)).all()


def test_demo_leads_are_spread_and_repeatable(db, make_company, make_user):
    first, second = make_company(name="Demo A"), make_company(name="Demo B")
    for company in (first, second):
        for role in ("OWNER", "MANAGER", "AGENT", "AGENT", "VIEWER"):
            make_user(company, role)
        lines = list(create_demo_leads(db, company.id, now=NOW))
        db.commit()
        assert lines == ["Created 300 demo leads over 6 stages."]
    leads = _leads(db, first)
    assert len(leads) == 300
    assert [lead.name for lead in leads] == [lead.name for lead in _leads(db, second)]
    assert len(Counter(lead.stage_id for lead in leads)) == 6
    assert set(Counter(lead.source for lead in leads)) == {"quiz", "manual", "import", "api"}
    assert len({lead.owner_id for lead in leads}) >= 4  # several sellers and unassigned ones
    assert sum(1 for lead in leads if lead.value) > 150
    by_stage: dict[int, list[tuple[int, int]]] = {}
    for lead in leads:
        by_stage.setdefault(lead.stage_id, []).append((lead.position, lead.id))
    assert all(len(set(keys)) == len(keys) for keys in by_stage.values())
    assert db.scalar(select(func.count()).select_from(LeadTag).where(LeadTag.company_id == first.id)) > 50
    kinds = Counter(db.scalars(select(LeadActivity.kind).where(LeadActivity.company_id == first.id)))
    assert kinds["created"] == 300 and kinds["quiz"] > 50 and kinds["moved"] > 100
