"""Writing to the outbox: inside the caller's transaction, so a delivery exists exactly
when the change that caused it was committed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from orbitflow.deliveries.models import Delivery
from orbitflow.models.meta import utcnow

MAX_PAYLOAD_BYTES = 256 * 1024


class PayloadTooLarge(ValueError):
    pass


def enqueue(
    session: Session,
    *,
    company_id: int,
    channel: str,
    destination: str,
    payload: dict[str, Any],
    event_id: str,
    not_before: datetime | None = None,
) -> Delivery:
    """Add a delivery to the caller's transaction and return it (flushed).

    Enqueueing the same ``event_id`` for the same channel and destination twice in one
    transaction returns the first row; across transactions the unique constraint refuses
    the second. ``payload`` must be JSON (at most 256 KiB); ``not_before`` (naive UTC)
    delays the first attempt.
    """
    for pending in session.new:
        if isinstance(pending, Delivery) and (pending.channel, pending.destination, pending.event_id) == (
            channel,
            destination,
            event_id,
        ):
            return pending
    size = len(json.dumps(payload, separators=(",", ":"), default=str))
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"a delivery payload is limited to {MAX_PAYLOAD_BYTES} bytes, got {size}")
    now = utcnow()
    delivery = Delivery(
        company_id=company_id,
        channel=channel,
        destination=destination,
        payload=payload,
        event_id=event_id,
        status="pending",
        attempts=0,
        next_attempt_at=not_before or now,
        created_at=now,
        updated_at=now,
    )
    session.add(delivery)
    return delivery


def resend(session: Session, delivery: Delivery) -> None:
    """Send a delivery once more, now, whatever became of it (same event id, so the
    receiver can tell it is the same message). An open one is left as it is."""
    if delivery.status in ("pending", "sending"):
        return
    delivery.status = "pending"
    delivery.next_attempt_at = utcnow()
    delivery.claim_token = None
    delivery.claimed_until = None
