"""Each user's e-mail notification choices (a row only once someone changed a default)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from orbitflow.models.meta import Base, BigId, TenantOwned, updated_at_column


class NotificationSettings(TenantOwned, Base):
    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # The user's own choice (Profile): e-mail about new and assigned leads.
    lead_emails: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # Chosen by owners and admins (Settings → Notifications): hears of unassigned new leads.
    unassigned_leads: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    updated_at: Mapped[datetime] = updated_at_column()
