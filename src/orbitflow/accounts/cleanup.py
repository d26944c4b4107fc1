"""Purging what sign-ins leave behind: server-side sessions and second-step challenges that
ended or expired more than :data:`KEEP` ago. Nothing live is touched: a session within its
idle and absolute time-outs, or a challenge within its few minutes, stays.

Run by ``orbitflow purge-logs`` (the operators' daily purge), beside the old system log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.engine import Connection

from orbitflow.accounts.models import TwoFactorChallenge, UserSession
from orbitflow.config import Settings
from orbitflow.models.meta import utcnow

# Ended and expired rows stay this long: a day to look into what just happened.
KEEP = timedelta(days=1)


@dataclass(frozen=True)
class Purged:
    sessions: int
    challenges: int


def purge_sign_ins(connection: Connection, settings: Settings, now: datetime | None = None) -> Purged:
    """Delete sessions and challenges that ended or expired before ``now - KEEP``, across
    every company (in the caller's transaction); how many of each went."""
    cutoff = (now or utcnow()) - KEEP
    sessions = connection.execute(
        delete(UserSession).where(
            or_(
                UserSession.ended_at < cutoff,
                UserSession.last_seen_at < cutoff - timedelta(seconds=settings.session_idle_seconds),
                UserSession.created_at < cutoff - timedelta(seconds=settings.session_absolute_seconds),
            )
        )
    ).rowcount
    challenges = connection.execute(
        delete(TwoFactorChallenge).where(
            or_(TwoFactorChallenge.ended_at < cutoff, TwoFactorChallenge.expires_at < cutoff)
        )
    ).rowcount
    return Purged(sessions, challenges)
