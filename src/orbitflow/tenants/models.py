"""Companies: the tenants, their plans and quotas."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from orbitflow.models.meta import Base, BigId, created_at_column, updated_at_column

PLATFORM_SUBSCRIPTION_ID = "platform"


class Plan(enum.StrEnum):
    FREE = "FREE"
    STARTER = "STARTER"
    PROFESSIONAL = "PROFESSIONAL"
    ENTERPRISE = "ENTERPRISE"


# Quotas a new company gets from its plan; each can be overridden per company.
PLAN_QUOTAS: dict[Plan, dict[str, int]] = {
    Plan.FREE: {"max_users": 3, "max_quizzes": 1},
    Plan.STARTER: {"max_users": 10, "max_quizzes": 5},
    Plan.PROFESSIONAL: {"max_users": 50, "max_quizzes": 25},
    Plan.ENTERPRISE: {"max_users": 1000, "max_quizzes": 500},
}


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    subscription_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    plan: Mapped[str] = mapped_column(String(20), default=Plan.FREE.value, nullable=False)
    max_users: Mapped[int] = mapped_column(Integer, nullable=False)
    max_quizzes: Mapped[int] = mapped_column(Integer, nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # The company's locale (orbitflow.tenants.locale): ISO 4217 currency of lead values,
    # ISO 3166 country its phone numbers are read in (None: orbitflow.default_phone_region),
    # IANA time zone its dates are shown and its reports count days in (None: TZ).
    currency: Mapped[str] = mapped_column(String(3), default="USD", nullable=False)
    phone_region: Mapped[str | None] = mapped_column(String(2))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    privacy_policy_url: Mapped[str | None] = mapped_column(String(500))
    frame_ancestors: Mapped[str | None] = mapped_column(String(500))
    # Every user signs in with a second factor (users without one enrol at next sign-in).
    require_two_factor: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    @property
    def is_platform(self) -> bool:
        return self.subscription_id == PLATFORM_SUBSCRIPTION_ID

    def __repr__(self) -> str:
        return f"<Company {self.id} {self.subscription_id}>"
