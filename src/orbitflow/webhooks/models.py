"""Webhook subscriptions of a company."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from orbitflow.models.meta import Base, BigId, TenantOwned, created_at_column, updated_at_column


class Webhook(TenantOwned, Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    description: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    events: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    # The signing key (whsec_ + base64), encrypted with ENCRYPTION_KEY (orbitflow.crypto):
    # the worker decrypts it to sign; the API and pages show it only when it is created
    # or rotated.
    secret_encrypted: Mapped[str] = mapped_column(String(255), nullable=False)
    # After a rotation the old secret (encrypted too) signs as well, a second signature,
    # until this time.
    previous_secret_encrypted: Mapped[str | None] = mapped_column(String(255))
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    @property
    def destination(self) -> str:
        return destination_of(self.id)


def destination_of(webhook_id: int) -> str:
    return f"webhook:{webhook_id}"
