"""Analytics tables: each lead's stage history, one fact row per lead, and daily counts.

- ``lead_stage_history``: one row each time a lead entered a stage (created into it or
  moved to it), with the stage's kind and the lead's value at that moment.
- ``analytics_lead_facts``: what the reports need of each lead, derived from the lead, its
  quiz submission, its history and its timeline: the day it came in and the day it was
  first won (in the company's time zone), its dimensions (source, quiz, UTM source,
  medium, campaign and content, owner), and when a person first worked on it. Kept so a
  change can take back exactly what the lead counted before.
- ``analytics_lead_daily`` and ``analytics_funnel_daily``: the sums the dashboard reads,
  one row per company, day and dimensions. Missing dimensions are stored as ``0``/``""``
  (not NULL) so the unique key holds and an upsert finds the row.

Every key starts with ``company_id``: each report reads one company's slice.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orbitflow.models.meta import Base, BigId, TenantOwned
from orbitflow_plugins.quiz.models import QuizSubmission

Money = Numeric(16, 2)


class LeadStageEntry(TenantOwned, Base):
    __tablename__ = "lead_stage_history"
    __table_args__ = (
        Index("ix_lead_stage_history_company_lead_entered", "company_id", "lead_id", "entered_at"),
        Index("ix_lead_stage_history_company_stage_entered", "company_id", "stage_id", "entered_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lead_id: Mapped[int] = mapped_column(BigId, ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    stage_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stages.id", ondelete="SET NULL"))
    # open, won or lost when the lead entered: a stage's kind may change later.
    stage_kind: Mapped[str] = mapped_column(String(8), nullable=False)
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    entered_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class LeadFact(Base):
    __tablename__ = "analytics_lead_facts"
    __table_args__ = (
        Index("ix_analytics_lead_facts_company_day_owner", "company_id", "day", "owner_id"),
        # The won leads of a range with what the owners table and the median read.
        Index(
            "ix_analytics_lead_facts_company_won_day_owner_times",
            "company_id",
            "won_day",
            "owner_id",
            "created_at",
            "won_at",
            "won_value",
        ),
        # The owners table's median time to first activity, from the index alone.
        Index(
            "ix_analytics_lead_facts_company_day_owner_activity",
            "company_id",
            "day",
            "owner_id",
            "created_at",
            "first_activity_at",
        ),
        # The UTM medium and content breakdowns (on demand): leads that came in, and won ones.
        Index("ix_analytics_lead_facts_company_day_utm_detail", "company_id", "day", "utm_medium", "utm_content"),
        Index(
            "ix_analytics_lead_facts_company_won_day_utm_detail",
            "company_id",
            "won_day",
            "utm_medium",
            "utm_content",
            "won_value",
        ),
    )

    # No foreign key: the row outlives its lead's deletion long enough to be taken back.
    lead_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    company_id: Mapped[int] = mapped_column(BigId, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    quiz_id: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    utm_source: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    utm_campaign: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    utm_medium: Mapped[str] = mapped_column(String(200), default="", server_default="", nullable=False)
    utm_content: Mapped[str] = mapped_column(String(200), default="", server_default="", nullable=False)
    owner_id: Mapped[int] = mapped_column(BigId, default=0, nullable=False)
    # The first line a person wrote on the lead's timeline (see FIRST_ACTIVITY_SKIPPED).
    first_activity_at: Mapped[datetime | None] = mapped_column(DateTime)
    won_at: Mapped[datetime | None] = mapped_column(DateTime)
    won_day: Mapped[date | None] = mapped_column(Date)
    won_value: Mapped[Decimal] = mapped_column(Money, default=0, nullable=False)


# Timeline lines that are no work on the lead: its creation, routing it to an owner, and
# folding a duplicate into it. Every other line with a person as its actor is activity.
FIRST_ACTIVITY_SKIPPED = ("created", "assigned", "merged")

LEAD_DIMENSIONS = ("source", "quiz_id", "utm_source", "utm_campaign")
LEAD_MEASURES = ("leads", "won", "won_value", "cohort_won")


class LeadDaily(Base):
    """``leads``: leads that came in that day; ``won``/``won_value``: leads first won that
    day (and still won); ``cohort_won``: of the leads that came in that day, how many are
    won now (conversion)."""

    __tablename__ = "analytics_lead_daily"
    __table_args__ = (
        UniqueConstraint("company_id", "day", *LEAD_DIMENSIONS, name="uq_analytics_lead_daily_key"),
        # Every column the dashboard reads: its series and breakdowns read this index only.
        Index("ix_analytics_lead_daily_company_day_counts", "company_id", "day", *LEAD_DIMENSIONS, *LEAD_MEASURES),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    company_id: Mapped[int] = mapped_column(BigId, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    quiz_id: Mapped[int] = mapped_column(BigId, nullable=False)
    utm_source: Mapped[str] = mapped_column(String(200), nullable=False)
    utm_campaign: Mapped[str] = mapped_column(String(200), nullable=False)
    leads: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    won: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    won_value: Mapped[Decimal] = mapped_column(Money, default=0, nullable=False)
    cohort_won: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


FUNNEL_DIMENSIONS = ("quiz_id", "question_id", "kind", "device")


class FunnelDaily(Base):
    """Funnel events per day: ``question_id`` is 0 for view, start and complete."""

    __tablename__ = "analytics_funnel_daily"
    __table_args__ = (
        UniqueConstraint("company_id", "day", *FUNNEL_DIMENSIONS, name="uq_analytics_funnel_daily_key"),
        # The dashboard's quiz steps (question 0) and one quiz's funnel, from the index alone.
        Index(
            "ix_analytics_funnel_daily_company_question_day_counts",
            "company_id",
            "question_id",
            "day",
            "quiz_id",
            "kind",
            "events",
        ),
        Index(
            "ix_analytics_funnel_daily_company_quiz_day_counts",
            "company_id",
            "quiz_id",
            "day",
            "question_id",
            "kind",
            "device",
            "events",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    company_id: Mapped[int] = mapped_column(BigId, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    quiz_id: Mapped[int] = mapped_column(BigId, nullable=False)
    question_id: Mapped[int] = mapped_column(BigId, nullable=False)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    device: Mapped[str] = mapped_column(String(8), nullable=False)
    events: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)


# A quiz's submissions with their fill time: the funnel's median time to complete reads
# this index only (the analytics plugin's index on the quiz plugin's table).
Index(
    "ix_quiz_submissions_company_quiz_created_fill",
    QuizSubmission.company_id,
    QuizSubmission.quiz_id,
    QuizSubmission.created_at,
    QuizSubmission.fill_seconds,
)

__all__ = ["FunnelDaily", "LeadDaily", "LeadFact", "LeadStageEntry"]
