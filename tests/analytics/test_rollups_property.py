"""The daily counts the rollups keep equal the raw counts and a full rebuild, after any
sequence of new leads and moves (hypothesis)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from orbitflow.leads.models import Lead
from orbitflow_plugins.analytics.models import LeadDaily
from orbitflow_plugins.analytics.rebuild import rebuild

START = datetime(2026, 10, 25, 0, 0)
STAGES = ("New", "Contacted", "Won", "Lost")

new_lead = st.tuples(
    st.just("lead"),
    st.integers(min_value=0, max_value=14 * 24 * 60),  # minutes after START
    st.sampled_from(("manual", "api", "import")),
    st.sampled_from((None, "facebook", "tiktok")),
    st.sampled_from((None, "bf", "xmas")),
    st.sampled_from((None, "10", "250.50")),
)
move = st.tuples(st.just("move"), st.integers(min_value=0, max_value=50), st.sampled_from(STAGES))
operations = st.lists(st.one_of(new_lead, move), min_size=1, max_size=12)


def counts(db, company_id):
    db.expire_all()
    rows = db.execute(
        select(
            LeadDaily.day,
            LeadDaily.source,
            LeadDaily.quiz_id,
            LeadDaily.utm_source,
            LeadDaily.utm_campaign,
            LeadDaily.leads,
            LeadDaily.won,
            LeadDaily.won_value,
            LeadDaily.cohort_won,
        ).where(LeadDaily.company_id == company_id)
    ).all()
    return {tuple(row[:5]): tuple(row[5:]) for row in rows if any(row[5:])}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations, zone=st.sampled_from(("Europe/Berlin", "America/New_York", "Asia/Kolkata")))
def test_counts_equal_raw_rows_and_a_rebuild(kit, make_company, backend, db, steps, zone):
    company = make_company(subscription_id=f"prop-{uuid.uuid4().hex[:8]}", time_zone=zone)
    leads = []
    for step in steps:
        if step[0] == "lead":
            _, minutes, source, utm_source, utm_campaign, value = step
            utm = {"source": utm_source, "campaign": utm_campaign}
            leads.append(kit.lead(company, START + timedelta(minutes=minutes), source=source, utm=utm, value=value))
        elif leads:
            _, index, stage = step
            kit.move(leads[index % len(leads)], company, stage)
    kit.flush()
    kept = counts(db, company.id)

    # The raw rows: leads per local day of creation.
    local = ZoneInfo(zone)
    raw: Counter = Counter()
    for created_at in db.scalars(select(Lead.created_at).where(Lead.company_id == company.id)):
        raw[created_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(local).date()] += 1
    per_day: Counter = Counter()
    for key, measures in kept.items():
        per_day[key[0]] += measures[0]
    assert +per_day == raw
    total_won = db.scalar(select(func.sum(LeadDaily.won)).where(LeadDaily.company_id == company.id)) or 0
    won_now = sum(1 for lead in leads if db.get(Lead, lead.id).stage.kind == "won")
    assert total_won == won_now

    with backend.engine.begin() as connection:
        rebuild(connection, company.id)
    assert counts(db, company.id) == kept
