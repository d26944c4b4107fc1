"""What each lead counts in the reports, and the daily counts derived from it.

A lead's :class:`~orbitflow_plugins.analytics.models.LeadFact` row holds what the reports
need of it; each ``analytics_lead_daily`` row is the sum over the facts of its key
(company, day, source, quiz, UTM source, UTM campaign). :func:`refresh` recomputes the
facts of some leads and then recounts, from all the facts, every daily row those leads
counted in before or count in now. Recounting (not adding a difference) makes a refresh
idempotent: a lead refreshed twice, or by two processes, counts once.

Counting rules:
- a lead counts as *new* on the local day it was created;
- it counts as *won* while it is in a won stage, on the local day it FIRST entered a won
  stage, with the value it had then: won, reopened and won again is one won lead;
- ``cohort_won`` counts it on the day it came in, for the conversion rate;
- its *first activity* is the first line a person (a user, or an API key acting for one)
  wrote on its timeline, other than its creation, an assignment or a merge: a note, a
  stage move, an edit (``FIRST_ACTIVITY_SKIPPED``); automatic lines have no person.

Concurrency (MariaDB, READ COMMITTED): a refresh first locks the leads' fact rows
(``SELECT ... FOR UPDATE``), so two refreshes of one lead run one after the other and the
second reads what the first wrote; it then locks the daily rows it will recount (an
upsert that adds nothing, creating missing rows) before it reads the facts to recount
them, so two refreshes touching one daily row recount it one after the other, the second
seeing the first's facts. Two refreshes creating the same lead's first fact meet on its
primary key: the second fails and is tried again. On SQLite the refresh takes the write
lock first (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, delete, func, insert, select, tuple_
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from orbitflow.leads.models import Lead, LeadActivity, Stage
from orbitflow.models.meta import utcnow
from orbitflow_plugins.analytics.days import local_day
from orbitflow_plugins.analytics.models import (
    FIRST_ACTIVITY_SKIPPED,
    LEAD_DIMENSIONS,
    LEAD_MEASURES,
    LeadDaily,
    LeadFact,
    LeadStageEntry,
)
from orbitflow_plugins.analytics.upsert import CHUNK, add_counts, replace_counts
from orbitflow_plugins.quiz.models import QuizSubmission

ZERO = Decimal("0.00")
LEADS = Lead.__table__
HISTORY = LeadStageEntry.__table__
FACTS = LeadFact.__table__
DAILY = LeadDaily.__table__
DAILY_KEYS = ("company_id", "day", *LEAD_DIMENSIONS)
# (day, source, quiz_id, utm_source, utm_campaign) of one company's daily row.
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
    utm_medium: str
    utm_content: str
    owner_id: int
    first_activity_at: datetime | None
    won_at: datetime | None
    won_day: date | None
    won_value: Decimal

    @classmethod
    def of_row(cls, row: Any) -> Fact:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def dimensions(self) -> tuple[Any, ...]:
        return (self.source, self.quiz_id, self.utm_source, self.utm_campaign)

    def keys(self) -> set[Key]:
        """The daily rows this lead counts in."""
        keys = {(self.day, *self.dimensions())}
        if self.won_day is not None:
            keys.add((self.won_day, *self.dimensions()))
        return keys


def make_fact(
    lead: Any,
    stage_kind: str,
    zone: ZoneInfo,
    *,
    quiz_id: int | None,
    first_won: tuple[datetime, Decimal | None] | None,
    first_activity_at: datetime | None,
) -> Fact:
    """The fact of ``lead`` (a row with the lead's column names)."""
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
        utm_medium=lead.utm_medium or "",
        utm_content=lead.utm_content or "",
        owner_id=lead.owner_id or 0,
        first_activity_at=first_activity_at,
        won_at=won_at,
        won_day=local_day(won_at, zone) if won_at is not None else None,
        won_value=won_value,
    )


# -- in the transaction of a change -----------------------------------------------------


def record_stage_entry(session: Session, lead: Lead, entered_at: datetime | None = None) -> None:
    """Add the lead's entry into its current stage (written with the change): one INSERT,
    the stage's kind read by the statement itself."""
    kind = select(Stage.kind).where(Stage.company_id == lead.company_id, Stage.id == lead.stage_id).scalar_subquery()
    session.execute(
        insert(LeadStageEntry).values(
            company_id=lead.company_id,
            lead_id=lead.id,
            stage_id=lead.stage_id,
            stage_kind=func.coalesce(kind, "open"),
            value=lead.value,
            entered_at=entered_at or utcnow(),
        )
    )


# -- computing facts --------------------------------------------------------------------


def _only(column, lead_ids: Sequence[int] | None) -> list:
    return [column.in_(lead_ids)] if lead_ids is not None else []


def first_won_entries(
    connection: Connection, company_id: int, lead_ids: Sequence[int] | None = None
) -> dict[int, tuple[Any, Any]]:
    """``lead_id -> (entered_at, value)`` of each lead's first entry into a won stage."""
    won = [HISTORY.c.company_id == company_id, HISTORY.c.stage_kind == "won", *_only(HISTORY.c.lead_id, lead_ids)]
    firsts = (
        select(HISTORY.c.lead_id, func.min(HISTORY.c.entered_at).label("entered_at"))
        .where(*won)
        .group_by(HISTORY.c.lead_id)
        .subquery()
    )
    rows = connection.execute(
        select(HISTORY.c.lead_id, HISTORY.c.entered_at, HISTORY.c.value)
        .join(firsts, and_(firsts.c.lead_id == HISTORY.c.lead_id, firsts.c.entered_at == HISTORY.c.entered_at))
        .where(*won)
        .order_by(HISTORY.c.id.desc())
    )
    # Ordered newest id first, so the earliest-written entry of a tie wins.
    return {lead_id: (entered_at, value) for lead_id, entered_at, value in rows}


def first_activities(company_id: int, lead_ids: Sequence[int] | None = None) -> Any:
    """``(lead_id, first_activity_at)``: when a person first worked on each lead of the
    company (or of ``lead_ids``), grouped in one pass over the timeline, to be joined to the
    leads. (A subquery per lead made MariaDB scan the company's timeline once per lead.)"""
    activity = LeadActivity.__table__
    return (
        select(activity.c.lead_id, func.min(activity.c.created_at).label("first_activity_at"))
        .where(
            activity.c.company_id == company_id,
            activity.c.actor_id.is_not(None),
            activity.c.kind.not_in(FIRST_ACTIVITY_SKIPPED),
            *_only(activity.c.lead_id, lead_ids),
        )
        .group_by(activity.c.lead_id)
        .subquery("first_activity")
    )


def facts_of(
    connection: Connection, company_id: int, zone: ZoneInfo, lead_ids: Sequence[int] | None = None
) -> dict[int, Fact]:
    """The facts of the company's leads (all, or those of ``lead_ids`` that still exist)."""
    worked_on = first_activities(company_id, lead_ids)
    leads = connection.execute(
        select(
            LEADS.c.id,
            LEADS.c.company_id,
            LEADS.c.created_at,
            LEADS.c.updated_at,
            LEADS.c.source,
            LEADS.c.utm_source,
            LEADS.c.utm_campaign,
            LEADS.c.utm_medium,
            LEADS.c.utm_content,
            LEADS.c.owner_id,
            LEADS.c.value,
            Stage.kind,
            worked_on.c.first_activity_at,
        )
        .join(Stage, Stage.id == LEADS.c.stage_id)
        .outerjoin(worked_on, worked_on.c.lead_id == LEADS.c.id)
        .where(LEADS.c.company_id == company_id, *_only(LEADS.c.id, lead_ids))
    ).all()
    if not leads:
        return {}
    found = [lead.id for lead in leads] if lead_ids is not None else None
    quizzes = dict(
        connection.execute(
            select(QuizSubmission.lead_id, func.min(QuizSubmission.quiz_id))
            .where(
                QuizSubmission.company_id == company_id,
                QuizSubmission.created_lead.is_(True),
                QuizSubmission.lead_id.is_not(None),
                *_only(QuizSubmission.lead_id, found),
            )
            .group_by(QuizSubmission.lead_id)
        ).all()
    )
    won = [lead.id for lead in leads if lead.kind == "won"] if found is not None else None
    first_won = first_won_entries(connection, company_id, won) if won is None or won else {}
    return {
        lead.id: make_fact(
            lead,
            lead.kind,
            zone,
            quiz_id=quizzes.get(lead.id),
            first_won=first_won.get(lead.id),
            first_activity_at=lead.first_activity_at,
        )
        for lead in leads
    }


def insert_facts(connection: Connection, facts: Iterable[Fact]) -> None:
    rows = [fact.row() for fact in facts]
    for start in range(0, len(rows), CHUNK):
        connection.execute(insert(FACTS), rows[start : start + CHUNK])


# -- counting ---------------------------------------------------------------------------


def recount(connection: Connection, company_id: int, keys: set[Key] | None = None) -> list[dict[str, Any]]:
    """The daily rows of ``keys`` (every key when None) summed from the facts; rows that
    count nothing are left out."""
    dims = [FACTS.c[name] for name in LEAD_DIMENSIONS]
    came_in = [FACTS.c.company_id == company_id]
    first_won = [FACTS.c.company_id == company_id, FACTS.c.won_day.is_not(None)]
    if keys is not None:
        if not keys:
            return []
        days = sorted({key[0] for key in keys})
        narrowed = tuple_(*dims).in_(sorted({key[1:] for key in keys}))
        came_in += [FACTS.c.day.in_(days), narrowed]
        first_won += [FACTS.c.won_day.in_(days), narrowed]
    counts: dict[Key, dict[str, Any]] = defaultdict(lambda: {"leads": 0, "won": 0, "won_value": ZERO, "cohort_won": 0})
    for day, *dimensions, leads, cohort_won in connection.execute(
        select(
            FACTS.c.day,
            *dims,
            func.count(),
            func.sum(case((FACTS.c.won_day.is_not(None), 1), else_=0)),
        )
        .where(*came_in)
        .group_by(FACTS.c.day, *dims)
    ):
        counts[(day, *dimensions)].update(leads=int(leads), cohort_won=int(cohort_won or 0))
    for day, *dimensions, won, won_value in connection.execute(
        select(FACTS.c.won_day, *dims, func.count(), func.sum(FACTS.c.won_value))
        .where(*first_won)
        .group_by(FACTS.c.won_day, *dims)
    ):
        counts[(day, *dimensions)].update(won=int(won), won_value=Decimal(str(won_value or 0)).quantize(ZERO))
    return [
        {"company_id": company_id, **dict(zip(("day", *LEAD_DIMENSIONS), key, strict=True)), **measures}
        for key, measures in counts.items()
        if keys is None or key in keys
    ]


def _daily_key_rows(company_id: int, keys: Iterable[Key], **measures: Any) -> list[dict[str, Any]]:
    return [
        {"company_id": company_id, **dict(zip(("day", *LEAD_DIMENSIONS), key, strict=True)), **measures}
        for key in sorted(keys)
    ]


def refresh(connection: Connection, company_id: int, zone: ZoneInfo, lead_ids: Sequence[int]) -> int:
    """Recompute the facts of ``lead_ids`` (deleted leads lose theirs) and recount the
    daily rows they touch, in the caller's transaction; returns the leads whose fact
    changed."""
    lead_ids = sorted(set(lead_ids))
    stored = {
        row.lead_id: Fact.of_row(row)
        for row in connection.execute(
            select(FACTS)
            .where(FACTS.c.company_id == company_id, FACTS.c.lead_id.in_(lead_ids))
            .order_by(FACTS.c.lead_id)
            .with_for_update()
        )
    }
    now = facts_of(connection, company_id, zone, lead_ids)
    changed = [lead_id for lead_id in lead_ids if stored.get(lead_id) != now.get(lead_id)]
    if not changed:
        return 0
    touched: set[Key] = set()
    for lead_id in changed:
        for fact in (stored.get(lead_id), now.get(lead_id)):
            if fact is not None:
                touched |= fact.keys()
    # Lock the daily rows first (creating the missing ones), in key order.
    # One type per column (won_value a Decimal): the driver's bulk insert refuses mixed ones.
    zero = {name: ZERO if name == "won_value" else 0 for name in LEAD_MEASURES}
    add_counts(connection, DAILY, _daily_key_rows(company_id, touched, **zero), DAILY_KEYS, LEAD_MEASURES)
    gone = [lead_id for lead_id in changed if lead_id in stored]
    if gone:
        connection.execute(delete(FACTS).where(FACTS.c.company_id == company_id, FACTS.c.lead_id.in_(gone)))
    insert_facts(connection, [now[lead_id] for lead_id in changed if lead_id in now])
    rows = recount(connection, company_id, touched)
    if rows:
        replace_counts(connection, DAILY, rows, DAILY_KEYS, LEAD_MEASURES)
    empty = touched - {(row["day"], *(row[name] for name in LEAD_DIMENSIONS)) for row in rows}
    if empty:
        connection.execute(
            delete(DAILY).where(
                DAILY.c.company_id == company_id,
                tuple_(DAILY.c.day, *(DAILY.c[name] for name in LEAD_DIMENSIONS)).in_(sorted(empty)),
            )
        )
    return len(changed)
