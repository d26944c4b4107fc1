"""Where the gauges come from: the database pool (per process) and the outbox (at scrape)."""

from __future__ import annotations

import os

from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from orbitflow.models.meta import utcnow
from orbitflow.shared import shared


def watch_pool(registry, metrics) -> None:
    """Count this process's checked-out connections (summed over live processes).

    A process announces its pool's size with its first checkout, so the server's parent
    process, which loads the app but serves nothing, does not count a pool of its own."""
    engine = shared(registry, Engine)
    size = getattr(engine.pool, "size", None)
    in_use = metrics.instruments.POOL_IN_USE
    announced: set[int] = set()

    def checkout(*_args) -> None:
        pid = os.getpid()
        if pid not in announced and callable(size):
            announced.add(pid)
            metrics.instruments.POOL_SIZE.set(size())
        in_use.inc()

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", lambda *_args: in_use.dec())


def outbox_state(registry) -> tuple[int, float]:
    """Pending deliveries, and the age in seconds of the oldest one (0 when none)."""
    from orbitflow.deliveries.models import Delivery

    with shared(registry, Engine).connect() as connection:
        count, oldest = connection.execute(
            select(func.count(), func.min(Delivery.created_at)).where(Delivery.status == "pending")
        ).one()
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return int(count), max(age, 0.0)
