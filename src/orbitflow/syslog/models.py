"""The system log: errors and notable events, kept even when the request failed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orbitflow.models.meta import Base, BigId, utcnow

LEVELS = ("ERROR", "WARN", "INFO")
SOURCES = ("CLIENT", "SERVER_ACTION", "API_ROUTE")


class SystemLogEntry(Base):
    __tablename__ = "system_log"
    __table_args__ = (Index("ix_system_log_level_created", "level", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    level: Mapped[str] = mapped_column(String(8), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    endpoint: Mapped[str | None] = mapped_column(String(500))
    method: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    stack: Mapped[str | None] = mapped_column(Text)
    error_id: Mapped[str | None] = mapped_column(String(32), index=True)
    # No foreign keys: the entry must be writable even when those rows are gone or locked.
    company_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    user_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True, nullable=False)
