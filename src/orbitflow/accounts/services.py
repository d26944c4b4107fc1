"""Signing in: credentials, lockout, and the audit entries they leave."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, lazyload

from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import hash_password, needs_rehash, verify_password
from orbitflow.audit.services import record
from orbitflow.db import unscoped
from orbitflow.models.meta import utcnow
from orbitflow.tenants.models import Company

GENERIC_FAILURE = "Wrong subscription ID, username or password."


@dataclass
class LoginResult:
    user: User | None = None
    error: str | None = None
    locked_seconds: int = 0


def find_login_user(session: Session, subscription_id: str, username: str, *, lock: bool = False) -> User | None:
    """The user signing in, or None. Usernames compare without regard to case.

    ``lock`` takes the user's row lock, so parallel attempts count every failure: without
    it, concurrent wrong guesses could overwrite each other's count and pass the limit.
    """
    with unscoped(session):
        company_id = session.scalar(
            select(Company.id).where(Company.subscription_id == subscription_id.strip().lower())
        )
        if company_id is None:
            return None
        query = select(User).where(User.company_id == company_id, func.lower(User.username) == username.strip().lower())
        if lock:
            # Lock the user row only, not the company row its eager join would bring.
            query = query.options(lazyload(User.company)).with_for_update()
        return session.scalars(query).first()


def authenticate(
    session: Session,
    subscription_id: str,
    username: str,
    password: str,
    *,
    lockout_threshold: int,
    lockout_seconds: int,
    ip: str | None = None,
    user_agent: str | None = None,
) -> LoginResult:
    """Check credentials; count failures and lock the account after too many.

    The caller commits: failures must be stored even though the login failed.
    """
    user = find_login_user(session, subscription_id, username, lock=True)
    now = utcnow()
    audit_kw = {"ip": ip, "user_agent": user_agent}
    if user is not None and user.locked_until is not None and user.locked_until > now:
        remaining = int((user.locked_until - now).total_seconds()) + 1
        verify_password(None, password)
        record(
            session,
            "auth.login_locked",
            company_id=user.company_id,
            actor_name=user.username,
            target_type="user",
            target_id=user.id,
            **audit_kw,
        )
        return LoginResult(error=_locked_message(remaining), locked_seconds=remaining)
    # Verify even for an unknown user (against a dummy hash): equal time, no enumeration.
    password_ok = verify_password(user.password_hash if user is not None else None, password)
    if user is None or not password_ok:
        if user is None:
            record(
                session,
                "auth.login_failed",
                company_id=None,
                actor_name=f"{username.strip()[:64]}@{subscription_id.strip()[:64]}",
                **audit_kw,
            )
            return LoginResult(error=GENERIC_FAILURE)
        user.failed_logins += 1
        record(
            session,
            "auth.login_failed",
            company_id=user.company_id,
            actor_name=user.username,
            target_type="user",
            target_id=user.id,
            changes={"failed_logins": user.failed_logins},
            **audit_kw,
        )
        if user.failed_logins >= lockout_threshold:
            user.locked_until = now + timedelta(seconds=lockout_seconds)
            user.failed_logins = 0
            record(
                session,
                "auth.lockout",
                company_id=user.company_id,
                actor_name=user.username,
                target_type="user",
                target_id=user.id,
                changes={"locked_until": user.locked_until.isoformat() + "Z"},
                **audit_kw,
            )
            return LoginResult(error=_locked_message(lockout_seconds), locked_seconds=lockout_seconds)
        return LoginResult(error=GENERIC_FAILURE)
    if not user.is_active or not (user.company.is_active or user.company.is_platform):
        # Same words as a wrong password: do not reveal which accounts exist.
        record(
            session,
            "auth.login_failed",
            company_id=user.company_id,
            actor_name=user.username,
            target_type="user",
            target_id=user.id,
            changes={"reason": "inactive"},
            **audit_kw,
        )
        return LoginResult(error=GENERIC_FAILURE)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    record(
        session,
        "auth.login",
        company_id=user.company_id,
        actor_id=user.id,
        actor_name=user.username,
        target_type="user",
        target_id=user.id,
        **audit_kw,
    )
    return LoginResult(user=user)


def _locked_message(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed attempts. Try again in {minutes} {unit}."
