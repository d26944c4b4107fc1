"""Writing to the outbox: inside the caller's transaction, so a delivery exists exactly
when the change that caused it was committed."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, insert
from sqlalchemy.orm import Session

from orbitflow.db import mark_written
from orbitflow.deliveries.models import Delivery
from orbitflow.models.meta import utcnow

MAX_PAYLOAD_BYTES = 256 * 1024

# Built once, so SQLAlchemy compiles it once and reuses that for every row of every
# transaction (an ``insert().values(...)`` per call would be compiled anew each time).
# The payload arrives serialized (it was measured for the cap), so it is bound as text.
INSERT_DELIVERY = insert(Delivery.__table__).values(payload=bindparam("payload", type_=Text()))
# The (channel, destination, event_id) keys the session's transaction has enqueued.
ENQUEUED_KEY = "orbitflow.deliveries.enqueued"


class PayloadTooLarge(ValueError):
    pass


@dataclass(frozen=True)
class Outgoing:
    """One delivery to enqueue: what :func:`enqueue_many` takes."""

    company_id: int
    channel: str
    destination: str
    payload: dict[str, Any]
    event_id: str
    not_before: datetime | None = None


def _enqueued(session: Session) -> set[tuple[str, str, str]]:
    """The keys this transaction has enqueued; a new transaction starts an empty set."""
    transaction = session.get_transaction()
    if transaction is None:
        session.connection()  # begin it now, so the set belongs to it
        transaction = session.get_transaction()
    held = session.info.get(ENQUEUED_KEY)
    if held is None or held[0] is not transaction:
        held = session.info[ENQUEUED_KEY] = (transaction, set())
    return held[1]


def _row(outgoing: Outgoing, now: datetime) -> dict[str, Any]:
    payload = json.dumps(outgoing.payload, separators=(",", ":"))
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"a delivery payload is limited to {MAX_PAYLOAD_BYTES} bytes, got {len(payload)}")
    return {
        "company_id": outgoing.company_id,
        "channel": outgoing.channel,
        "destination": outgoing.destination,
        "payload": payload,
        "event_id": outgoing.event_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": outgoing.not_before or now,
        "created_at": now,
        "updated_at": now,
    }


def enqueue_many(session: Session, deliveries: Iterable[Outgoing]) -> int:
    """Add deliveries to the caller's transaction with one INSERT (executemany); answer
    how many were new.

    One ``event_id`` for the same channel and destination is written once per
    transaction, however often it is enqueued; across transactions the unique constraint
    refuses the second. Each payload must be JSON (at most 256 KiB); ``not_before``
    (naive UTC) delays the first attempt.
    """
    seen = _enqueued(session)
    now = utcnow()
    rows = []
    for outgoing in deliveries:
        key = (outgoing.channel, outgoing.destination, outgoing.event_id)
        if key not in seen:
            seen.add(key)
            rows.append(_row(outgoing, now))
    if rows:
        session.execute(INSERT_DELIVERY, rows)
        mark_written(session)
    return len(rows)


def enqueue(
    session: Session,
    *,
    company_id: int,
    channel: str,
    destination: str,
    payload: dict[str, Any],
    event_id: str,
    not_before: datetime | None = None,
) -> bool:
    """Add one delivery to the caller's transaction (:func:`enqueue_many`'s rules);
    False when this transaction had enqueued it already."""
    return enqueue_many(session, [Outgoing(company_id, channel, destination, payload, event_id, not_before)]) == 1


def resend(session: Session, delivery: Delivery) -> None:
    """Send a delivery once more, now, whatever became of it (same event id, so the
    receiver can tell it is the same message). An open one is left as it is."""
    if delivery.status in ("pending", "sending"):
        return
    delivery.status = "pending"
    delivery.next_attempt_at = utcnow()
    delivery.claim_token = None
    delivery.claimed_until = None
