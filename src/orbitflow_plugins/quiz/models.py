"""Quizzes, their questions, options and outcomes; submissions and funnel events.

A quiz's definition lives in normal tables (``quizzes``, ``quiz_questions``,
``quiz_options``, ``quiz_outcomes``) rather than one JSON column, because:

- questions and options have ids of their own that funnel events ("question 3 answered")
  and reports refer to, with foreign keys keeping those references honest;
- every row is tenant-owned, so the core's tenant scoping covers each part of a quiz;
- the builder edits one question or outcome at a time, and reordering is one
  ``position`` column, with no read-modify-write of a whole document;
- the database enforces what it can (slug unique per company, one-time submission
  tokens) instead of application code re-validating a document on every read.

A submission keeps a snapshot of the questions as they were answered (``answers`` JSON),
so later edits of a quiz never change what a visitor submitted.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orbitflow.models.meta import Base, BigId, TenantOwned, created_at_column, updated_at_column, utcnow

DRAFT = "draft"
PUBLISHED = "published"
UNPUBLISHED = "unpublished"
ARCHIVED = "archived"
STATUSES = (DRAFT, PUBLISHED, UNPUBLISHED, ARCHIVED)

SINGLE = "single"
MULTIPLE = "multiple"
TEXT = "text"
NUMBER = "number"
RATING = "rating"
QUESTION_KINDS = {
    SINGLE: "Single choice",
    MULTIPLE: "Multiple choice",
    TEXT: "Short text",
    NUMBER: "Number",
    RATING: "Rating",
}
CHOICE_KINDS = (SINGLE, MULTIPLE)

OFF = "off"
OPTIONAL = "optional"
REQUIRED = "required"
CONTACT_MODES = (OFF, OPTIONAL, REQUIRED)
CONTACT_FIELDS = ("name", "email", "phone")

FUNNEL_KINDS = ("view", "start", "answer", "complete")

# Who gets the leads a quiz's submissions create (orbitflow_plugins.quiz.assignment).
ASSIGN_NONE = "none"
ASSIGN_ROUND_ROBIN = "round_robin"
ASSIGN_BY_OUTCOME = "outcome"
ASSIGN_MODES = {
    ASSIGN_NONE: "Leave new leads unassigned",
    ASSIGN_ROUND_ROBIN: "Round robin among chosen users",
    ASSIGN_BY_OUTCOME: "By outcome",
}


class Quiz(TenantOwned, Base):
    __tablename__ = "quizzes"
    __table_args__ = (
        UniqueConstraint("company_id", "slug", name="uq_quizzes_company_slug"),
        Index("ix_quizzes_company_status", "company_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    slug: Mapped[str] = mapped_column(String(80), nullable=False)
    intro: Mapped[str] = mapped_column(Text, default="", nullable=False)
    status: Mapped[str] = mapped_column(String(12), default=DRAFT, nullable=False)
    brand_color: Mapped[str] = mapped_column(String(7), default="#4f46e5", nullable=False)
    logo_url: Mapped[str | None] = mapped_column(String(500))
    contact_name: Mapped[str] = mapped_column(String(8), default=OPTIONAL, nullable=False)
    contact_email: Mapped[str] = mapped_column(String(8), default=REQUIRED, nullable=False)
    contact_phone: Mapped[str] = mapped_column(String(8), default=OPTIONAL, nullable=False)
    consent_enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    consent_text: Mapped[str] = mapped_column(
        String(300), default="I agree to be contacted about my answers.", nullable=False
    )
    thank_you_message: Mapped[str] = mapped_column(Text, default="Thank you! We will be in touch soon.", nullable=False)
    redirect_url: Mapped[str | None] = mapped_column(String(1000))
    # E-mail the visitor the thank-you message once their answers are stored.
    thank_you_email: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # How the leads its submissions create get an owner; the users are in ``assignees``.
    assign_mode: Mapped[str] = mapped_column(String(12), default=ASSIGN_NONE, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    questions: Mapped[list[QuizQuestion]] = relationship(
        back_populates="quiz", cascade="all, delete-orphan", order_by="QuizQuestion.position, QuizQuestion.id"
    )
    outcomes: Mapped[list[QuizOutcome]] = relationship(
        back_populates="quiz", cascade="all, delete-orphan", order_by="QuizOutcome.min_score, QuizOutcome.id"
    )
    assignees: Mapped[list[QuizAssignee]] = relationship(cascade="all, delete-orphan", order_by="QuizAssignee.id")

    @property
    def is_public(self) -> bool:
        return self.status == PUBLISHED

    def contact_mode(self, field: str) -> str:
        return getattr(self, f"contact_{field}")


class QuizQuestion(TenantOwned, Base):
    __tablename__ = "quiz_questions"
    __table_args__ = (Index("ix_quiz_questions_quiz_position", "quiz_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    quiz_id: Mapped[int] = mapped_column(BigId, ForeignKey("quizzes.id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    text: Mapped[str] = mapped_column(String(500), nullable=False)
    help_text: Mapped[str] = mapped_column(String(500), default="", nullable=False)
    required: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # Number: allowed range; rating: min_value 1, max_value the scale (3 to 10).
    min_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    max_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    # Number and rating answers add their value to the score when set.
    scored: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)

    quiz: Mapped[Quiz] = relationship(back_populates="questions")
    options: Mapped[list[QuizOption]] = relationship(
        back_populates="question", cascade="all, delete-orphan", order_by="QuizOption.position, QuizOption.id"
    )

    @property
    def field_name(self) -> str:
        return f"q_{self.id}"

    @property
    def is_choice(self) -> bool:
        return self.kind in CHOICE_KINDS

    @property
    def rating_scale(self) -> int:
        return int(self.max_value or 5)

    @property
    def min_text(self) -> str | None:
        return None if self.min_value is None else format(self.min_value.normalize(), "f")

    @property
    def max_text(self) -> str | None:
        return None if self.max_value is None else format(self.max_value.normalize(), "f")


class QuizOption(TenantOwned, Base):
    __tablename__ = "quiz_options"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    question_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("quiz_questions.id", ondelete="CASCADE"), index=True, nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    label: Mapped[str] = mapped_column(String(200), nullable=False)
    score: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

    question: Mapped[QuizQuestion] = relationship(back_populates="options")


class QuizOutcome(TenantOwned, Base):
    """A result shown to visitors whose score falls in ``min_score..max_score`` (inclusive;
    an open end is unbounded). Ranges of one quiz never overlap."""

    __tablename__ = "quiz_outcomes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    quiz_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("quizzes.id", ondelete="CASCADE"), index=True, nullable=False
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    min_score: Mapped[int | None] = mapped_column(Integer)
    max_score: Mapped[int | None] = mapped_column(Integer)

    quiz: Mapped[Quiz] = relationship(back_populates="outcomes")

    def matches(self, score: int) -> bool:
        return (self.min_score is None or score >= self.min_score) and (
            self.max_score is None or score <= self.max_score
        )


class QuizAssignee(TenantOwned, Base):
    """A user the quiz's assignment rule hands new leads to: one turn of the round robin
    (``outcome_id`` empty, in ``id`` order), or the owner of one outcome's leads."""

    __tablename__ = "quiz_assignees"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    quiz_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("quizzes.id", ondelete="CASCADE"), index=True, nullable=False
    )
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    outcome_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("quiz_outcomes.id", ondelete="CASCADE"))


class QuizAssignTurn(TenantOwned, Base):
    """The round robin's counter of one quiz. A row of its own: counting a turn locks it
    until the submission commits (so concurrent submissions take turns one by one), and
    locks nothing the builder edits or the definition cache watches."""

    __tablename__ = "quiz_assign_turns"

    quiz_id: Mapped[int] = mapped_column(BigId, ForeignKey("quizzes.id", ondelete="CASCADE"), primary_key=True)
    turn: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)


class QuizSubmission(TenantOwned, Base):
    """One completed quiz. ``token`` is the one-time token of the rendered form: unique,
    so a double click or a retried request can never store a second submission."""

    __tablename__ = "quiz_submissions"
    __table_args__ = (
        UniqueConstraint("token", name="uq_quiz_submissions_token"),
        Index("ix_quiz_submissions_company_quiz_created", "company_id", "quiz_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    quiz_id: Mapped[int] = mapped_column(BigId, ForeignKey("quizzes.id", ondelete="CASCADE"), nullable=False)
    lead_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("leads.id", ondelete="SET NULL"), index=True)
    # True when this submission created its lead, False when it joined an existing one.
    created_lead: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    token: Mapped[str] = mapped_column(String(32), nullable=False)
    answers: Mapped[list] = mapped_column(JSON, nullable=False)
    contact: Mapped[dict] = mapped_column(JSON, nullable=False)
    score: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    outcome_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("quiz_outcomes.id", ondelete="SET NULL"))
    outcome_title: Mapped[str | None] = mapped_column(String(200))
    consent: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    utm_source: Mapped[str | None] = mapped_column(String(200))
    utm_medium: Mapped[str | None] = mapped_column(String(200))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    utm_term: Mapped[str | None] = mapped_column(String(200))
    utm_content: Mapped[str | None] = mapped_column(String(200))
    referrer: Mapped[str | None] = mapped_column(String(1000))
    # Ad click ids (fbclid, ttclid, gclid) for conversion reporting.
    click_ids: Mapped[dict | None] = mapped_column(JSON)
    # HMAC of the visitor's address with the app secret: never the address itself.
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    fill_seconds: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    quiz: Mapped[Quiz] = relationship()

    @property
    def utm(self) -> dict[str, str]:
        keys = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
        return {key: getattr(self, key) for key in keys if getattr(self, key)}


class QuizFunnelEvent(TenantOwned, Base):
    """A step of a visitor's way through a quiz: view, start, answer (of a question),
    complete. ``session_key`` ties the steps of one rendered form together."""

    __tablename__ = "quiz_funnel_events"
    __table_args__ = (
        Index("ix_quiz_funnel_company_quiz_kind_created", "company_id", "quiz_id", "kind", "created_at"),
        Index("ix_quiz_funnel_session", "session_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    quiz_id: Mapped[int] = mapped_column(BigId, ForeignKey("quizzes.id", ondelete="CASCADE"), nullable=False)
    session_key: Mapped[str] = mapped_column(String(32), nullable=False)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    question_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("quiz_questions.id", ondelete="SET NULL"))
    utm_source: Mapped[str | None] = mapped_column(String(200))
    utm_medium: Mapped[str | None] = mapped_column(String(200))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    # mobile, tablet or desktop (orbitflow_plugins.quiz.devices); None before it was kept.
    device: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


class QuizContactKey(TenantOwned, Base):
    """One row per (company, e-mail) that a quiz submission turned into a lead.

    Its unique key serialises concurrent submissions with the same address: the second
    waits for the first to commit, then finds that lead instead of creating a twin.
    The address is stored as an HMAC, not in clear."""

    __tablename__ = "quiz_contact_keys"
    __table_args__ = (UniqueConstraint("company_id", "email_hash", name="uq_quiz_contact_keys_company_email"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()


__all__ = [
    "Quiz",
    "QuizAssignTurn",
    "QuizAssignee",
    "QuizContactKey",
    "QuizFunnelEvent",
    "QuizOption",
    "QuizOutcome",
    "QuizQuestion",
    "QuizSubmission",
]
