"""Purging sign-ins: sessions and second-step challenges that ended or expired more than a
day ago go, in every company; live ones stay and still work."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select

from orbitflow.accounts.cleanup import KEEP, purge_sign_ins
from orbitflow.accounts.models import TwoFactorChallenge, UserSession
from orbitflow.accounts.sessions import issue_session
from orbitflow.config import get_settings
from orbitflow.models.meta import utcnow
from orbitflow.security import SESSION_COOKIE


def session_row(user, label: str, *, created, seen, ended=None) -> UserSession:
    return UserSession(
        company_id=user.company_id,
        token_hash=hashlib.sha256(label.encode()).hexdigest(),
        user_id=user.id,
        created_at=created,
        last_seen_at=seen,
        ended_at=ended,
        end_reason="logout" if ended else None,
        user_agent=label,
    )


def challenge_row(user, label: str, *, created, expires, ended=None) -> TwoFactorChallenge:
    return TwoFactorChallenge(
        company_id=user.company_id,
        user_id=user.id,
        token_hash=hashlib.sha256(label.encode()).hexdigest(),
        created_at=created,
        expires_at=expires,
        ended_at=ended,
    )


def test_old_sessions_and_challenges_go_and_live_ones_stay(
    backend, db, wsgi_app, another_client, make_company, make_user
):
    settings = get_settings(wsgi_app.registry)
    idle = timedelta(seconds=settings.session_idle_seconds)
    absolute = timedelta(seconds=settings.session_absolute_seconds)
    now = utcnow()
    users = [make_user(make_company(), "OWNER"), make_user(make_company(), "AGENT")]
    for user in users:  # the same rows in two companies: the purge crosses tenants
        db.add_all(
            [
                session_row(
                    user, f"ended-long-ago-{user.id}", created=now - 3 * KEEP, seen=now - 3 * KEEP, ended=now - 2 * KEEP
                ),
                session_row(
                    user, f"idle-long-ago-{user.id}", created=now - idle - 2 * KEEP, seen=now - idle - 2 * KEEP
                ),
                session_row(user, f"too-old-{user.id}", created=now - absolute - 2 * KEEP, seen=now),
                # Ended or expired within the day: kept for now.
                session_row(
                    user, f"ended-today-{user.id}", created=now - KEEP / 2, seen=now - KEEP / 2, ended=now - KEEP / 2
                ),
                session_row(user, f"idle-today-{user.id}", created=now - idle - KEEP / 2, seen=now - idle - KEEP / 2),
                challenge_row(
                    user,
                    f"c-expired-long-ago-{user.id}",
                    created=now - 2 * KEEP,
                    expires=now - 2 * KEEP + timedelta(minutes=5),
                ),
                challenge_row(
                    user,
                    f"c-ended-long-ago-{user.id}",
                    created=now - 2 * KEEP,
                    expires=now - 2 * KEEP + timedelta(minutes=5),
                    ended=now - 2 * KEEP,
                ),
                challenge_row(
                    user,
                    f"c-expired-today-{user.id}",
                    created=now - KEEP / 2,
                    expires=now - KEEP / 2 + timedelta(minutes=5),
                ),
                challenge_row(user, f"c-live-{user.id}", created=now, expires=now + timedelta(minutes=5)),
            ]
        )
    live = [issue_session(db, settings, user, user_agent=f"live-{user.id}") for user in users]
    db.commit()

    with backend.engine.begin() as connection:
        purged = purge_sign_ins(connection, settings)
    assert (purged.sessions, purged.challenges) == (6, 4)

    db.expire_all()
    sessions = set(db.scalars(select(UserSession.user_agent)))
    challenges = set(db.scalars(select(TwoFactorChallenge.token_hash)))
    for user in users:
        assert {label for label in sessions if label.endswith(f"-{user.id}")} == {
            f"ended-today-{user.id}",
            f"idle-today-{user.id}",
            f"live-{user.id}",
        }
        assert challenges >= {
            hashlib.sha256(f"c-{label}-{user.id}".encode()).hexdigest() for label in ("expired-today", "live")
        }
    assert len(challenges) == 4
    # The live sessions still sign their browsers in.
    for user, issued in zip(users, live, strict=True):
        client = another_client()
        client.set_cookie(SESSION_COOKIE, issued.cookie_value)
        assert client.get("/api/v1/me", status=200).json["id"] == user.id
    # Purging again finds nothing.
    with backend.engine.begin() as connection:
        assert purge_sign_ins(connection, settings) == type(purged)(0, 0)
