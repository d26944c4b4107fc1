"""Single-use links sent by e-mail: password resets and invitations.

Only a SHA-256 of the token is stored; the token itself is in the e-mail alone. A link
works once, until it expires, and issuing a new one of the same purpose for a user voids
the older ones.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import DateTime, ForeignKey, Index, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from zope.sqlalchemy import mark_changed

from orbitflow.accounts.models import User
from orbitflow.db import unscoped
from orbitflow.models.meta import Base, BigId, TenantOwned, created_at_column, utcnow

PURPOSES = {"reset": timedelta(minutes=30), "invite": timedelta(days=3)}


class AccountLink(TenantOwned, Base):
    __tablename__ = "account_links"
    __table_args__ = (Index("ix_account_links_user_purpose", "user_id", "purpose"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = created_at_column()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(session: Session, user: User, purpose: str) -> str:
    """A new link for ``user``; returns the token (put it in the e-mail, nowhere else)."""
    now = utcnow()
    void_links(session, user, purpose, now)
    token = secrets.token_urlsafe(32)
    session.add(
        AccountLink(
            company_id=user.company_id,
            user_id=user.id,
            purpose=purpose,
            token_hash=token_hash(token),
            expires_at=now + PURPOSES[purpose],
            created_at=now,
        )
    )
    session.flush()
    return token


def void_links(session: Session, user: User, purpose: str | None = None, now: datetime | None = None) -> None:
    criteria = [AccountLink.user_id == user.id, AccountLink.used_at.is_(None)]
    if purpose is not None:
        criteria.append(AccountLink.purpose == purpose)
    session.execute(
        update(AccountLink)
        .where(*criteria)
        .values(used_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    mark_changed(session)


def valid_link(session: Session, token: str) -> tuple[AccountLink, User] | None:
    """The unused, unexpired link of this token and its active user, or None. Crosses
    tenants on purpose: the token alone names the account."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    with unscoped(session):
        link = session.scalars(select(AccountLink).where(AccountLink.token_hash == token_hash(token))).first()
        if link is None or link.used_at is not None or link.expires_at <= utcnow():
            return None
        user = session.get(User, link.user_id)
        if user is None or not user.is_active or not user.company.is_active:
            return None
        return link, user
