"""Daily funnel counts, added in the transaction that writes each batch of funnel events
(the quiz plugin's recorder calls :func:`count_batch` as one of its observers)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from orbitflow.tenants.models import Company
from orbitflow.tenants.zones import installation_zone, zone
from orbitflow_plugins.analytics.days import local_day
from orbitflow_plugins.analytics.models import FUNNEL_DIMENSIONS, FunnelDaily
from orbitflow_plugins.analytics.upsert import add_counts

KEYS = ("company_id", "day", *FUNNEL_DIMENSIONS)


def zones_of(connection: Connection, company_ids: Iterable[int]) -> dict[int, Any]:
    rows = connection.execute(select(Company.id, Company.time_zone).where(Company.id.in_(set(company_ids))))
    default = installation_zone()
    return {company_id: zone(name or default) for company_id, name in rows}


def tally(rows: Iterable[dict[str, Any]], zones: dict[int, Any]) -> Counter:
    counts: Counter = Counter()
    for row in rows:
        company_id = row["company_id"]
        if company_id not in zones:
            continue
        counts[
            (
                company_id,
                local_day(row["created_at"], zones[company_id]),
                row["quiz_id"],
                row.get("question_id") or 0,
                row["kind"],
                row.get("device") or "",
            )
        ] += 1
    return counts


def write_tally(connection: Connection, counts: Counter) -> None:
    rows = [{**dict(zip(KEYS, key, strict=True)), "events": events} for key, events in counts.items()]
    if rows:
        add_counts(connection, FunnelDaily.__table__, rows, KEYS, ("events",))


def count_batch(connection: Connection, rows: list[dict[str, Any]]) -> None:
    write_tally(connection, tally(rows, zones_of(connection, {row["company_id"] for row in rows})))
