"""Users, their server-side sessions and API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orbitflow.models.meta import Base, BigId, TenantOwned, created_at_column, updated_at_column
from orbitflow.tenants.models import Company


class User(TenantOwned, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("company_id", "username", name="uq_users_company_username"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    company: Mapped[Company] = relationship(lazy="joined")

    @property
    def display_name(self) -> str:
        return self.name or self.username

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username}@{self.company_id}>"


class UserSession(TenantOwned, Base):
    """A signed-in browser. Its cookie carries a random token; the row holds only the
    token's SHA-256, so the table cannot be replayed as cookies. Ended sessions stay (with
    the reason) until purged."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id_ended_at", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    # The super admin seeing the product as ``user`` (None for the user's own sessions).
    impersonator_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # When the sign-in happened; impersonating keeps the original time, so the absolute
    # limit counts from the sign-in.
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    # Signed in with the password alone where the company requires a second factor: the
    # session reaches the enrolment pages only, until the user has enrolled.
    needs_two_factor: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class ApiKey(TenantOwned, Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    # The first characters of the key, shown in lists so a key can be recognised.
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    company: Mapped[Company] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class TwoFactorSecret(TenantOwned, Base):
    """A user's TOTP secret, encrypted with ENCRYPTION_KEY (:mod:`orbitflow.crypto`).

    Unconfirmed (``confirmed_at`` None) while the user enrols; second-factor sign-in is on
    once the first code confirmed it. ``last_used_step`` is the time step of the last code
    accepted: a code of that step or an earlier one is refused (no replay)."""

    __tablename__ = "two_factor_secrets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), unique=True, nullable=False)
    secret_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(TenantOwned, Base):
    """A one-time recovery code, stored as a password hash; ``used_at`` once spent."""

    __tablename__ = "two_factor_recovery_codes"
    __table_args__ = (Index("ix_two_factor_recovery_codes_user_id_used_at", "user_id", "used_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    code_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class TwoFactorChallenge(TenantOwned, Base):
    """The second step of a sign-in: the password was right, the code is still due.

    Not a session: it signs nobody in, and only the second-step page reads it. Its cookie
    carries a random token (the row keeps its SHA-256); it ends when used, when too many
    codes were wrong, or after a few minutes."""

    __tablename__ = "two_factor_challenges"
    __table_args__ = (Index("ix_two_factor_challenges_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    # Where to go after the second step (checked again by safe_next).
    next_url: Mapped[str | None] = mapped_column(String(500))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
