"""Pipeline stages, leads, their tags, notes and activity timeline."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
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
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orbitflow.accounts.models import User
from orbitflow.models.meta import Base, BigId, TenantOwned, created_at_column, updated_at_column, utcnow

STAGE_KINDS = ("open", "won", "lost")
LEAD_SOURCES = ("manual", "quiz", "import", "api")


class Stage(TenantOwned, Base):
    __tablename__ = "stages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    color: Mapped[str] = mapped_column(String(7), default="#64748b", nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(8), default="open", nullable=False)
    created_at: Mapped[datetime] = created_at_column()


class Lead(TenantOwned, Base):
    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_company_stage_position", "company_id", "stage_id", "position"),
        Index("ix_leads_company_email", "company_id", "email"),
        Index("ix_leads_company_created", "company_id", "created_at"),
        Index("ix_leads_company_owner", "company_id", "owner_id"),
        # Covers the board's per-stage counts and value totals (also for agents).
        Index("ix_leads_company_stage_owner_value", "company_id", "stage_id", "owner_id", "value"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    company_name: Mapped[str | None] = mapped_column(String(200))
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    source: Mapped[str] = mapped_column(String(16), default="manual", nullable=False)
    stage_id: Mapped[int] = mapped_column(BigId, ForeignKey("stages.id"), nullable=False)
    # Order inside the stage; gaps are allowed so a move rarely renumbers other cards.
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    utm_source: Mapped[str | None] = mapped_column(String(200))
    utm_medium: Mapped[str | None] = mapped_column(String(200))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    utm_term: Mapped[str | None] = mapped_column(String(200))
    utm_content: Mapped[str | None] = mapped_column(String(200))
    referrer: Mapped[str | None] = mapped_column(String(1000))
    consent: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    consent_at: Mapped[datetime | None] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    stage: Mapped[Stage] = relationship()
    owner: Mapped[User | None] = relationship()
    tag_rows: Mapped[list[LeadTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="LeadTag.tag"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]


class LeadTag(TenantOwned, Base):
    __tablename__ = "lead_tags"
    __table_args__ = (
        UniqueConstraint("lead_id", "tag", name="uq_lead_tags_lead_tag"),
        Index("ix_lead_tags_company_tag", "company_id", "tag"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lead_id: Mapped[int] = mapped_column(BigId, ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    tag: Mapped[str] = mapped_column(String(50), nullable=False)


class LeadNote(TenantOwned, Base):
    __tablename__ = "lead_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lead_id: Mapped[int] = mapped_column(BigId, ForeignKey("leads.id", ondelete="CASCADE"), index=True, nullable=False)
    author_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_at_column()

    author: Mapped[User | None] = relationship()


class LeadActivity(TenantOwned, Base):
    """One line of a lead's timeline: created, moved, edited, assigned, note, quiz answers."""

    __tablename__ = "lead_activity"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lead_id: Mapped[int] = mapped_column(BigId, ForeignKey("leads.id", ondelete="CASCADE"), index=True, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    data: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    actor: Mapped[User | None] = relationship()


# The upload itself can be large: TEXT holds only 64 KB on MariaDB.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


class LeadImport(TenantOwned, Base):
    """A CSV upload between its preview and its import, then its report."""

    __tablename__ = "lead_imports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    content: Mapped[str] = mapped_column(LongText, nullable=False)
    row_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # pending: uploaded, waiting for the mapping; done: imported, report filled in.
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    options: Mapped[dict | None] = mapped_column(JSON)
    report: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
