"""Signing in: credentials within the sign-in limits, and the audit entries they leave."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import hash_password, needs_rehash, verify_password
from orbitflow.accounts.signin_limits import ACCOUNT, Attempt, SignInGuard, wait_message
from orbitflow.audit.services import record
from orbitflow.db import unscoped
from orbitflow.models.meta import utcnow
from orbitflow.tenants.models import Company

GENERIC_FAILURE = "Wrong subscription ID, username or password."


@dataclass
class LoginResult:
    user: User | None = None
    error: str | None = None
    # Seconds to wait when the attempt was refused or locked the account (a 429).
    retry_after: int = 0


def find_login_user(session: Session, subscription_id: str, username: str) -> User | None:
    """The user signing in, or None. Usernames compare without regard to case."""
    with unscoped(session):
        company_id = session.scalar(
            select(Company.id).where(Company.subscription_id == subscription_id.strip().lower())
        )
        if company_id is None:
            return None
        return session.scalars(
            select(User).where(User.company_id == company_id, func.lower(User.username) == username.strip().lower())
        ).first()


def authenticate(
    session: Session,
    guard: SignInGuard,
    subscription_id: str,
    username: str,
    password: str,
    *,
    ip: str,
    user_agent: str | None = None,
) -> tuple[LoginResult, Attempt]:
    """Check credentials within the sign-in limits (:mod:`orbitflow.accounts.signin_limits`).

    Known and unknown accounts take the same path: the same counters, the same answers,
    and a password verification (against a dummy hash when there is no such user). The
    caller commits: failures must be stored even though the login failed. The attempt is
    returned for the second step of a two-factor sign-in.
    """
    attempt = guard.attempt(subscription_id, username, ip)
    user = find_login_user(session, subscription_id, username)
    who = _audit_subject(user, subscription_id, username, ip=ip, user_agent=user_agent)
    refusal = guard.admit(attempt)
    if refusal is not None:
        if guard.audit_refusal(attempt, refusal.reason):
            action = "auth.login_locked" if refusal.reason == ACCOUNT else "auth.login_throttled"
            record(session, action, changes={"limit": refusal.reason}, **who)
        return LoginResult(error=wait_message(refusal.retry_after), retry_after=refusal.retry_after), attempt
    password_ok = verify_password(user.password_hash if user is not None else None, password)
    active = user is not None and user.is_active and (user.company.is_active or user.company.is_platform)
    if not (password_ok and active):
        # An inactive account says the same as a wrong password: nothing tells which exist.
        return sign_in_failed(session, guard, attempt, who, inactive=password_ok and not active), attempt
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return LoginResult(user=user), attempt


def sign_in_failed(
    session: Session, guard: SignInGuard, attempt: Attempt, who: dict, *, inactive: bool = False
) -> LoginResult:
    """Audit a failed password attempt and lock the account for this address when it was
    one failure too many (second-factor codes: :mod:`orbitflow.accounts.two_factor`)."""
    changes = {"reason": "inactive"} if inactive else None
    record(session, "auth.login_failed", changes=changes, **who)
    locked, first = guard.failed(attempt)
    if first:
        record(session, "auth.lockout", changes={"minutes": guard.lockout_seconds // 60}, **who)
    if locked:
        return LoginResult(error=wait_message(guard.lockout_seconds), retry_after=guard.lockout_seconds)
    return LoginResult(error=GENERIC_FAILURE)


def signed_in(
    session: Session,
    guard: SignInGuard,
    attempt: Attempt,
    user: User,
    *,
    ip: str,
    user_agent: str | None,
    changes: dict | None = None,
):
    """The last step of a successful sign-in (after the second factor, when there is one):
    failures forgotten, the sign-in time kept, audited."""
    guard.succeeded(attempt)
    user.last_login_at = utcnow()
    record(
        session,
        "auth.login",
        company_id=user.company_id,
        actor_id=user.id,
        actor_name=user.username,
        target_type="user",
        target_id=user.id,
        changes=changes,
        ip=ip,
        user_agent=user_agent,
    )


def _audit_subject(user: User | None, subscription_id: str, username: str, **audit_kw) -> dict:
    if user is None:
        return {
            "company_id": None,
            "actor_name": f"{username.strip()[:64]}@{subscription_id.strip()[:64]}",
            **audit_kw,
        }
    return {
        "company_id": user.company_id,
        "actor_name": user.username,
        "target_type": "user",
        "target_id": user.id,
        **audit_kw,
    }
