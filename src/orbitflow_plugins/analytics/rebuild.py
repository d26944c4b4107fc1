"""Rebuild every analytics count of a company (or all) from the raw rows: leads, their
stage history and quiz submissions, and the funnel events.

Leads that have no stage history yet (written before the history existed, or by code
that announced nothing) get one entry for their current stage at their creation time.
Run by ``orbitflow analytics-rebuild CONFIG`` and by the migration that adds the tables;
safe to run at any time (each company is rebuilt in one transaction)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, delete, insert, select
from sqlalchemy.engine import Connection

from orbitflow.leads.models import Lead, Stage
from orbitflow.tenants.models import Company
from orbitflow.tenants.zones import installation_zone, zone
from orbitflow_plugins.analytics import funnelcounts, leadfacts
from orbitflow_plugins.analytics.models import LEAD_MEASURES, FunnelDaily, LeadDaily, LeadFact, LeadStageEntry
from orbitflow_plugins.analytics.upsert import CHUNK, replace_counts
from orbitflow_plugins.quiz.models import QuizFunnelEvent

LEADS = Lead.__table__
HISTORY = LeadStageEntry.__table__
FACTS = LeadFact.__table__
DAILY = LeadDaily.__table__
FUNNEL = QuizFunnelEvent.__table__
STREAM = 20_000


def rebuild(connection: Connection, company_id: int | None = None) -> dict[str, int]:
    """Rebuild one company's counts (all companies when ``company_id`` is None); returns
    how many leads and funnel events were counted."""
    query = select(Company.id, Company.time_zone).order_by(Company.id)
    if company_id is not None:
        query = query.where(Company.id == company_id)
    totals = {"companies": 0, "leads": 0, "events": 0}
    default = installation_zone()
    for cid, zone_name in connection.execute(query).all():
        company_zone = zone(zone_name or default)
        totals["leads"] += _rebuild_leads(connection, cid, company_zone)
        totals["events"] += _rebuild_funnel(connection, cid, company_zone)
        totals["companies"] += 1
    return totals


def _backfill_history(connection: Connection, company_id: int) -> None:
    without = (
        select(LEADS.c.id, LEADS.c.company_id, LEADS.c.stage_id, Stage.kind, LEADS.c.value, LEADS.c.created_at)
        .join(Stage, Stage.id == LEADS.c.stage_id)
        .outerjoin(HISTORY, and_(HISTORY.c.company_id == company_id, HISTORY.c.lead_id == LEADS.c.id))
        .where(LEADS.c.company_id == company_id, HISTORY.c.id.is_(None))
    )
    rows = [
        {"lead_id": i, "company_id": c, "stage_id": s, "stage_kind": k, "value": v, "entered_at": t}
        for i, c, s, k, v, t in connection.execute(without)
    ]
    for start in range(0, len(rows), CHUNK):
        connection.execute(insert(HISTORY), rows[start : start + CHUNK])


def _rebuild_leads(connection: Connection, company_id: int, company_zone) -> int:
    _backfill_history(connection, company_id)
    facts = leadfacts.facts_of(connection, company_id, company_zone)
    connection.execute(delete(FACTS).where(FACTS.c.company_id == company_id))
    connection.execute(delete(DAILY).where(DAILY.c.company_id == company_id))
    leadfacts.insert_facts(connection, facts.values())
    replace_counts(connection, DAILY, leadfacts.recount(connection, company_id), leadfacts.DAILY_KEYS, LEAD_MEASURES)
    return len(facts)


def _events(connection: Connection, company_id: int) -> Iterator[dict[str, Any]]:
    # On the statement, not the connection: a connection's options would stay on for the
    # INSERTs that follow.
    result = connection.execute(
        select(
            FUNNEL.c.company_id,
            FUNNEL.c.created_at,
            FUNNEL.c.quiz_id,
            FUNNEL.c.question_id,
            FUNNEL.c.kind,
            FUNNEL.c.device,
        )
        .where(FUNNEL.c.company_id == company_id)
        .execution_options(yield_per=STREAM)
    )
    yield from result.mappings()


def _rebuild_funnel(connection: Connection, company_id: int, company_zone) -> int:
    connection.execute(delete(FunnelDaily.__table__).where(FunnelDaily.__table__.c.company_id == company_id))
    counts = funnelcounts.tally(_events(connection, company_id), {company_id: company_zone})
    funnelcounts.write_tally(connection, counts)
    return sum(counts.values())
