"""The analytics counts of changed leads, kept by a background writer of each process.

A change to a lead (created, edited, moved, deleted, or a line a person wrote on its
timeline, such as a note) only notes the lead in its session (:func:`note_change`, no
SQL); when the session commits, the noted leads go to the process's :class:`LeadRollups`
(a :class:`orbitflow.batches.BatchWriter`), and a rolled back session forgets them. The
writer's thread refreshes what has gathered at most every second, in ONE transaction per
flush: the facts of those leads and the daily rows they touch, recounted from the facts
(:func:`orbitflow_plugins.analytics.leadfacts.refresh`), so a lead refreshed twice, by two
processes, or after a crash counts once.

Writers are found by the database engine the session is bound to (:func:`rollups_for`),
so the app's request sessions and any other session of the same engine (console scripts,
tests) hand their changes to the same writer.

Loss window (stated in the README): with the process's own buffer, the leads changed in
the last second (plus a flush that was being written) when a process is killed without
running its exit hooks; their counts stay as they were until the next change of the same
leads or a rebuild (``orbitflow analytics-rebuild CONFIG``). With ``REDIS_URL`` the noted
leads wait in Redis and any process's flush writes them.
"""

from __future__ import annotations

import json
import weakref
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from orbitflow.batches import DEFAULT_INTERVAL, BatchWriter, Buffer
from orbitflow.leads.models import LeadActivity
from orbitflow_plugins.analytics import leadfacts
from orbitflow_plugins.analytics.funnelcounts import zones_of
from orbitflow_plugins.analytics.models import FIRST_ACTIVITY_SKIPPED

PENDING = "analytics_changed_leads"
_WRITERS: weakref.WeakKeyDictionary[Engine, LeadRollups] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, order=True)
class LeadChange:
    company_id: int
    lead_id: int

    def to_json(self) -> str:
        return json.dumps([self.company_id, self.lead_id])

    @classmethod
    def from_json(cls, raw: str | bytes) -> LeadChange:
        company_id, lead_id = json.loads(raw)
        return cls(company_id, lead_id)


class LeadRollups(BatchWriter[LeadChange]):
    """Refreshes the facts and daily counts of the leads changed since the last flush."""

    name = "analytics-rollups"
    # Leads per transaction: each company's part is a handful of statements whatever its size.
    max_batch = 1000

    def __init__(self, engine: Engine, buffer: Buffer[LeadChange], interval: float = DEFAULT_INTERVAL) -> None:
        super().__init__(buffer, interval)
        self.engine = engine

    def write(self, changes: list[LeadChange]) -> int:
        by_company: dict[int, set[int]] = defaultdict(set)
        for change in changes:
            by_company[change.company_id].add(change.lead_id)
        with self.engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # Take the write lock before reading: refreshes run one after the other.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            zones = zones_of(connection, by_company)
            for company_id in sorted(zones):
                leadfacts.refresh(connection, company_id, zones[company_id], sorted(by_company[company_id]))
            connection.commit()
        return len(changes)


def rollups_for(engine: Engine, buffer: Buffer[LeadChange] | None = None) -> LeadRollups:
    """The writer of ``engine`` in this process (made, with ``buffer``, on first use)."""
    from orbitflow.batches import MemoryBuffer

    rollups = _WRITERS.get(engine)
    if rollups is None:
        rollups = _WRITERS[engine] = LeadRollups(engine, buffer if buffer is not None else MemoryBuffer())
    return rollups


def note_change(session: Session, company_id: int, lead_id: int) -> None:
    """Count the lead again once ``session`` commits (no SQL now)."""
    session.info.setdefault(PENDING, set()).add(LeadChange(company_id, lead_id))


@event.listens_for(Session, "after_flush")
def _note_timeline_lines(session: Session, _flush_context) -> None:
    """A line a person wrote on a lead's timeline may be its first activity: a note has no
    domain event of its own, so its lead is noted here (where this process keeps the
    counts of the session's database)."""
    if session.bind is None or session.bind not in _WRITERS:
        return
    for row in session.new:
        if isinstance(row, LeadActivity) and row.actor_id is not None and row.kind not in FIRST_ACTIVITY_SKIPPED:
            note_change(session, row.company_id, row.lead_id)


@event.listens_for(Session, "after_commit")
def _hand_over(session: Session) -> None:
    changes = session.info.pop(PENDING, None)
    if changes and session.bind is not None:
        rollups_for(session.bind).record_many(sorted(changes))  # type: ignore[arg-type]


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(PENDING, None)
