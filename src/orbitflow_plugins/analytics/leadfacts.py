"""What each lead counts in the reports, kept up to date in the transaction of every change.

A change to a lead (created, edited, moved, deleted) recomputes the lead's
:class:`~orbitflow_plugins.analytics.models.LeadFact` and adds to the daily counts the
difference between what the lead counted before and what it counts now. So the counts
always equal what a full rebuild (:mod:`orbitflow_plugins.analytics.rebuild`) gives.

Counting rules:
- a lead counts as *new* on the local day it was created;
- it counts as *won* while it is in a won stage, on the local day it FIRST entered a won
  stage, with the value it had then: won, reopened and won again is one won lead;
- ``cohort_won`` counts it on the day it came in, for the conversion rate.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from orbitflow.leads.models import Lead, Stage
from orbitflow.models.meta import utcnow
from orbitflow.tenants.models import Company
from orbitflow.tenants.zones import company_zone
from orbitflow_plugins.analytics.days import local_day
from orbitflow_plugins.analytics.models import (
    LEAD_DIMENSIONS,
    LEAD_MEASURES,
    LeadDaily,
    LeadFact,
    LeadStageEntry,
)
from orbitflow_plugins.analytics.upsert import add_counts
from orbitflow_plugins.quiz.models import QuizSubmission

ZERO = Decimal("0.00")
Key = tuple[Any, ...]


@dataclass(frozen=True)
class Fact:
    lead_id: int
    company_id: int
    created_at: datetime
    day: date
    source: str
    quiz_id: int
    utm_source: str
    utm_campaign: str
    owner_id: int
    won_at: datetime | None
    won_day: date | None
    won_value: Decimal

    @classmethod
    def of_row(cls, row: LeadFact) -> Fact:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def dimensions(self) -> tuple[Any, ...]:
        return (self.source, self.quiz_id, self.utm_source, self.utm_campaign)


def contributions(fact: Fact | None) -> dict[Key, dict[str, Any]]:
    """What one lead adds to the daily counts: ``(day, *dimensions) -> {measure: n}``."""
    counts: dict[Key, dict[str, Any]] = defaultdict(dict)
    if fact is None:
        return counts
    came_in = (fact.day, *fact.dimensions())
    counts[came_in]["leads"] = 1
    if fact.won_day is not None:
        counts[came_in]["cohort_won"] = 1
        won = counts[(fact.won_day, *fact.dimensions())]
        won["won"] = won.get("won", 0) + 1
        won["won_value"] = fact.won_value
    return counts


def difference(before: Fact | None, after: Fact | None) -> list[dict[str, Any]]:
    """Rows for :func:`add_counts`: ``after``'s contributions minus ``before``'s."""
    total: dict[Key, dict[str, Any]] = defaultdict(lambda: {m: 0 for m in LEAD_MEASURES})
    for sign, fact in ((-1, before), (1, after)):
        for key, measures in contributions(fact).items():
            for name, amount in measures.items():
                total[key][name] += sign * amount
    rows = []
    for key, measures in total.items():
        if any(measures.values()):
            day, *dimensions = key
            rows.append(
                {
                    "company_id": (after or before).company_id,
                    "day": day,
                    **dict(zip(LEAD_DIMENSIONS, dimensions, strict=True)),
                    **{m: Decimal(measures[m]) if m == "won_value" else int(measures[m]) for m in LEAD_MEASURES},
                }
            )
    return rows


def make_fact(
    lead: Lead | Any,
    stage_kind: str,
    zone: ZoneInfo,
    *,
    quiz_id: int | None,
    first_won: tuple[datetime, Decimal | None] | None,
) -> Fact:
    """The fact of ``lead`` (a Lead or a row with the same attribute names)."""
    won_at: datetime | None = None
    won_value = ZERO
    if stage_kind == "won":
        # In a won stage without a recorded entry (the stage was made a won one later):
        # won since the lead's last change.
        won_at, value = first_won if first_won is not None else (lead.updated_at, lead.value)
        won_value = Decimal(value or 0)
    return Fact(
        lead_id=lead.id,
        company_id=lead.company_id,
        created_at=lead.created_at,
        day=local_day(lead.created_at, zone),
        source=lead.source,
        quiz_id=quiz_id or 0,
        utm_source=lead.utm_source or "",
        utm_campaign=lead.utm_campaign or "",
        owner_id=lead.owner_id or 0,
        won_at=won_at,
        won_day=local_day(won_at, zone) if won_at is not None else None,
        won_value=won_value,
    )


# -- in the transaction of a change -----------------------------------------------------


def record_stage_entry(session: Session, lead: Lead, entered_at: datetime | None = None) -> None:
    kind = (
        session.scalar(select(Stage.kind).where(Stage.company_id == lead.company_id, Stage.id == lead.stage_id))
        or "open"
    )
    session.add(
        LeadStageEntry(
            company_id=lead.company_id,
            lead_id=lead.id,
            stage_id=lead.stage_id,
            stage_kind=kind,
            value=lead.value,
            entered_at=entered_at or utcnow(),
        )
    )
    session.flush()


def quiz_of_lead(session: Session, company_id: int, lead_id: int) -> int | None:
    """The quiz whose submission created the lead."""
    return session.scalar(
        select(QuizSubmission.quiz_id)
        .where(
            QuizSubmission.company_id == company_id,
            QuizSubmission.lead_id == lead_id,
            QuizSubmission.created_lead.is_(True),
        )
        .order_by(QuizSubmission.id)
        .limit(1)
    )


def first_won_entry(session: Session, company_id: int, lead_id: int) -> tuple[datetime, Decimal | None] | None:
    row = session.execute(
        select(LeadStageEntry.entered_at, LeadStageEntry.value)
        .where(
            LeadStageEntry.company_id == company_id,
            LeadStageEntry.lead_id == lead_id,
            LeadStageEntry.stage_kind == "won",
        )
        .order_by(LeadStageEntry.entered_at, LeadStageEntry.id)
        .limit(1)
    ).first()
    return (row[0], row[1]) if row is not None else None


def refresh_lead(session: Session, company_id: int, lead_id: int) -> None:
    """Recompute the lead's fact and apply the difference to the daily counts."""
    stored = session.get(LeadFact, lead_id)
    if stored is not None and stored.company_id != company_id:
        return
    before = Fact.of_row(stored) if stored is not None else None
    row = session.execute(
        select(Lead, Stage.kind)
        .join(Stage, Stage.id == Lead.stage_id)
        .where(Lead.company_id == company_id, Lead.id == lead_id)
    ).first()
    after = None
    if row is not None:
        lead, kind = row
        company = session.get(Company, company_id)
        after = make_fact(
            lead,
            kind,
            company_zone(company),
            quiz_id=quiz_of_lead(session, company_id, lead_id),
            first_won=first_won_entry(session, company_id, lead_id) if kind == "won" else None,
        )
    if before == after:
        return
    if after is None:
        session.execute(delete(LeadFact).where(LeadFact.lead_id == lead_id))
    elif stored is None:
        session.add(LeadFact(**after.row()))
    else:
        for name, value in after.row().items():
            setattr(stored, name, value)
    session.flush()
    rows = difference(before, after)
    if rows:
        add_counts(
            session.connection(), LeadDaily.__table__, rows, ("company_id", "day", *LEAD_DIMENSIONS), LEAD_MEASURES
        )
    mark_changed(session)
