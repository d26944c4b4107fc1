"""The outbox: one row per message to send, and one row per attempt to send it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orbitflow.models.meta import Base, BigId, TenantOwned, created_at_column, updated_at_column, utcnow

# pending: waiting for next_attempt_at; sending: claimed by a worker until claimed_until
# (next_attempt_at holds the same time, so one index finds due and abandoned rows alike);
# delivered; failed: refused for good by the receiver; dead: out of attempts.
STATUSES = ("pending", "sending", "delivered", "failed", "dead")
OPEN_STATUSES = ("pending", "sending")


class Delivery(TenantOwned, Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        # One delivery per event per destination of a channel, however often it is enqueued.
        UniqueConstraint("channel", "destination", "event_id", name="uq_deliveries_channel_destination_event"),
        Index("ix_deliveries_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_deliveries_company_channel_destination", "company_id", "channel", "destination", "created_at"),
        Index("ix_deliveries_claim_token", "claim_token"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(50), nullable=False)
    # What the channel needs to find the receiver: "webhook:12", an e-mail address, a pixel id.
    destination: Mapped[str] = mapped_column(String(255), nullable=False)
    # The idempotency key the receiver sees (webhook-id, the pixel's event_id, Message-ID).
    event_id: Mapped[str] = mapped_column(String(100), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_excerpt: Mapped[str | None] = mapped_column(String(1000))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class DeliveryAttempt(TenantOwned, Base):
    """Every attempt is kept: what was answered, and when."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_delivery", "delivery_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(BigId, ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    # delivered, retry, failed (the channel's answer) or dead (a retry with no attempts left)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    excerpt: Mapped[str] = mapped_column(String(1000), default="", nullable=False)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
