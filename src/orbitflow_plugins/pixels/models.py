"""A company's pixel settings, the quizzes it switched off, and what a submission told us
about the visitor (kept for the server events, sent now and when the lead is won)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orbitflow.models.meta import Base, BigId, TenantOwned, created_at_column, updated_at_column

DEFAULT_META_WON_EVENT = "Purchase"
DEFAULT_TIKTOK_WON_EVENT = "CompletePayment"


class PixelSettings(TenantOwned, Base):
    """One row per company that saved its pixel settings; without one, the installation's
    ``FACEBOOK_PIXEL_ID`` / ``TIKTOK_PIXEL_ID`` apply (browser events only: no token)."""

    __tablename__ = "pixel_settings"
    __table_args__ = (UniqueConstraint("company_id", name="uq_pixel_settings_company"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    facebook_pixel_id: Mapped[str | None] = mapped_column(String(20))
    # Fernet tokens (orbitflow.crypto); never returned by the API.
    facebook_access_token: Mapped[str | None] = mapped_column(Text)
    tiktok_pixel_code: Mapped[str | None] = mapped_column(String(40))
    tiktok_access_token: Mapped[str | None] = mapped_column(Text)
    test_event_code: Mapped[str | None] = mapped_column(String(40))
    require_consent: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    meta_won_event: Mapped[str] = mapped_column(String(40), default=DEFAULT_META_WON_EVENT, nullable=False)
    tiktok_won_event: Mapped[str] = mapped_column(String(40), default=DEFAULT_TIKTOK_WON_EVENT, nullable=False)
    # Server-event deliveries refused or given up in a row (reset by a delivered one).
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # When the system log was last told that this company's deliveries keep failing.
    failure_warned_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    # Server events go only to a pixel the company set itself, with its own token (never
    # to the installation's default pixel, which is for browser events).
    @property
    def meta_server_events(self) -> bool:
        return bool(self.facebook_pixel_id and self.facebook_access_token)

    @property
    def tiktok_server_events(self) -> bool:
        return bool(self.tiktok_pixel_code and self.tiktok_access_token)


class PixelQuizOff(TenantOwned, Base):
    """A quiz whose visitors the pixels do not hear about (every quiz is on by default)."""

    __tablename__ = "pixel_quiz_off"
    __table_args__ = (UniqueConstraint("quiz_id", name="uq_pixel_quiz_off_quiz"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    quiz_id: Mapped[int] = mapped_column(BigId, ForeignKey("quizzes.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = created_at_column()


class PixelAttribution(TenantOwned, Base):
    """What the visitor's browser told us on landing and submission, kept with the
    submission and its lead, only when tracking was allowed (consent given or not
    required). ``won_reported_at`` makes the won-stage conversion once per lead: set when
    it is queued, so a win while no token was set is reported at a later one."""

    __tablename__ = "pixel_attributions"
    __table_args__ = (UniqueConstraint("submission_id", name="uq_pixel_attributions_submission"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    quiz_id: Mapped[int] = mapped_column(BigId, ForeignKey("quizzes.id", ondelete="CASCADE"), nullable=False)
    submission_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("quiz_submissions.id", ondelete="CASCADE"), nullable=False
    )
    lead_id: Mapped[int] = mapped_column(BigId, ForeignKey("leads.id", ondelete="CASCADE"), index=True, nullable=False)
    # The id the browser's Lead/SubmitForm and the server's events share.
    event_id: Mapped[str] = mapped_column(String(64), nullable=False)
    consent: Mapped[bool] = mapped_column(Boolean, nullable=False)
    fbc: Mapped[str | None] = mapped_column(String(600))
    fbp: Mapped[str | None] = mapped_column(String(200))
    ttp: Mapped[str | None] = mapped_column(String(200))
    ttclid: Mapped[str | None] = mapped_column(String(500))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    page_url: Mapped[str | None] = mapped_column(String(2000))
    won_reported_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = created_at_column()
