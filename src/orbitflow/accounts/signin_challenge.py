"""The pending second step of a sign-in: the password was right, the code is still due.

A challenge is a row (``two_factor_challenges``) and a cookie of this browser that carries a
random token (the row keeps its SHA-256), signed with AUTH_SECRET (AUTH_SECRET_PREVIOUS
verifies too), limited to ``/login`` and to a few minutes. It is not a session: it signs
nobody in, and only the second-step page (:mod:`orbitflow.accounts.two_factor_signin`) reads it.
Ended and expired rows are purged by :mod:`orbitflow.accounts.cleanup`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from pyramid.request import Request
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from webob.cookies import make_cookie
from zope.sqlalchemy import mark_changed

from orbitflow.accounts.models import TwoFactorChallenge, User
from orbitflow.config import Settings, get_settings
from orbitflow.db import unscoped
from orbitflow.models.meta import utcnow
from orbitflow.signing import RotatingSerializer, serializer_for

# The second step of a sign-in must follow the password within this time.
CHALLENGE_SECONDS = 300
CHALLENGE_COOKIE = "orbitflow_2fa"
CHALLENGE_PATH = "/login"


def _serializer(settings: Settings) -> RotatingSerializer:
    return serializer_for(settings, "orbitflow.two_factor")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def challenge_headers(settings: Settings, value: str | None) -> list[tuple[str, str]]:
    cookie = make_cookie(
        CHALLENGE_COOKIE,
        value or "",
        max_age=0 if value is None else CHALLENGE_SECONDS,
        path=CHALLENGE_PATH,
        secure=settings.secure_cookies,
        httponly=True,
        samesite="Lax",
    )
    return [("Set-Cookie", cookie)]


def begin_challenge(request: Request, user: User, next_url: str) -> list[tuple[str, str]]:
    """After a correct password: the pending second step (a row and its cookie). Earlier
    challenges of the user end: only the newest sign-in may finish."""
    session = request.dbsession
    now = utcnow()
    token = secrets.token_urlsafe(32)
    with unscoped(session):
        session.execute(
            update(TwoFactorChallenge)
            .where(
                TwoFactorChallenge.user_id == user.id,
                TwoFactorChallenge.company_id == user.company_id,
                TwoFactorChallenge.ended_at.is_(None),
            )
            .values(ended_at=now)
            .execution_options(synchronize_session=False)
        )
        mark_changed(session)
        session.add(
            TwoFactorChallenge(
                company_id=user.company_id,
                user_id=user.id,
                token_hash=_hash(token),
                created_at=now,
                expires_at=now + timedelta(seconds=CHALLENGE_SECONDS),
                next_url=next_url if len(next_url) <= 500 else None,
            )
        )
        session.flush()
    settings = get_settings(request.registry)
    return challenge_headers(settings, _serializer(settings).dumps(token).decode("ascii"))


def find_challenge(request: Request) -> tuple[TwoFactorChallenge, User] | None:
    """The live challenge this browser's cookie names, with its user, or None."""
    value = request.cookies.get(CHALLENGE_COOKIE)
    if not value:
        return None
    try:
        token = _serializer(get_settings(request.registry)).loads(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None
    if not isinstance(token, str) or not token:
        return None
    session = request.dbsession
    with unscoped(session):
        found = session.execute(
            select(TwoFactorChallenge, User)
            .join(User, User.id == TwoFactorChallenge.user_id)
            .where(
                TwoFactorChallenge.token_hash == _hash(token),
                TwoFactorChallenge.ended_at.is_(None),
                TwoFactorChallenge.expires_at > utcnow(),
            )
        ).first()
    if found is None:
        return None
    challenge, user = found
    if not user.is_active or not (user.company.is_active or user.company.is_platform):
        return None
    return challenge, user


def end_challenge(session: Session, challenge: TwoFactorChallenge) -> None:
    with unscoped(session):
        challenge.ended_at = utcnow()
        session.flush()
