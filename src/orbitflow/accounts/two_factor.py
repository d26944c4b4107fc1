"""Two-factor sign-in: enrolment, checking a code, recovery codes, turning it off, an
owner's reset and the company's requirement (the pending second step of a sign-in:
:mod:`orbitflow.accounts.signin_challenge`).

Every code check goes through the sign-in limits (:mod:`orbitflow.accounts.signin_limits`):
the same per-address, per-subscription and per-account counters as passwords, so guessing
codes is as slow as guessing passwords and locks the account for that address. A code is
accepted once: its time step is stored, and a code of that step or an earlier one is
refused (a conditional UPDATE, so two requests racing with one code cannot both pass).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyramid.request import Request
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from zope.sqlalchemy import mark_changed

from orbitflow.accounts import totp
from orbitflow.accounts.models import RecoveryCode, TwoFactorSecret, User, UserSession
from orbitflow.accounts.passwords import hash_password, verify_password
from orbitflow.accounts.signin_limits import signin_guard, wait_message
from orbitflow.audit.services import record
from orbitflow.crypto import Undecryptable, encryptor
from orbitflow.db import unscoped
from orbitflow.models.meta import utcnow
from orbitflow.tenants.models import Company

log = logging.getLogger(__name__)
UNREADABLE_SECRET = (
    "Codes from your app cannot be checked at the moment. Use one of your recovery codes, "
    "or ask an owner to reset your second factor."
)
UNREADABLE_HINT = "ENCRYPTION_KEY no longer lists the key it was encrypted with (keep old keys after the new one)"
WRONG_CODE = "That code is not right. Check the time on your phone and try the newest code."
USED_CODE = "That code has been used already. Wait for the next one."


class TwoFactorError(Exception):
    """Refused; ``status`` is the HTTP status, ``field`` the form field the message is for."""

    def __init__(self, message: str, status: int = 400, field: str = "code", retry_after: int = 0):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field
        self.retry_after = retry_after


@dataclass(frozen=True)
class Accepted:
    kind: str  # totp.TOTP or totp.RECOVERY
    recovery_codes_left: int | None = None


def _who(user: User, request: Request) -> dict:
    """Audit fields of an entry about ``user``'s own second factor (signed in or not yet)."""
    identity = request.identity
    return {
        "company_id": user.company_id,
        "actor_id": user.id,
        "actor_name": user.username,
        "impersonator_id": identity.impersonator_id if identity is not None else None,
        "target_type": "user",
        "target_id": user.id,
        "ip": request.client_ip,
        "user_agent": request.user_agent,
    }


def secret_row(session: Session, user: User) -> TwoFactorSecret | None:
    with unscoped(session):  # a sign-in has no company yet
        return session.scalars(
            select(TwoFactorSecret).where(
                TwoFactorSecret.user_id == user.id, TwoFactorSecret.company_id == user.company_id
            )
        ).first()


def is_enrolled(session: Session, user: User) -> bool:
    row = secret_row(session, user)
    return row is not None and row.confirmed_at is not None


def _confirmed_secret(session: Session, user: User) -> TwoFactorSecret:
    """The user's confirmed secret; refused (409) when second-factor sign-in is off."""
    row = secret_row(session, user)
    if row is None or row.confirmed_at is None:
        raise TwoFactorError("Two-factor sign-in is not on for this account.", 409, field="")
    return row


def recovery_codes_left(session: Session, user: User) -> int:
    with unscoped(session):
        return (
            session.scalar(
                select(func.count(RecoveryCode.id)).where(
                    RecoveryCode.user_id == user.id,
                    RecoveryCode.company_id == user.company_id,
                    RecoveryCode.used_at.is_(None),
                )
            )
            or 0
        )


def account_label(user: User) -> str:
    """How the account is named in the authenticator app."""
    return f"{user.username}@{user.company.subscription_id}"


# --- enrolment ---------------------------------------------------------------------------


def start_enrolment(request: Request, user: User) -> TwoFactorSecret:
    """A new secret waiting for its first code (replacing an unconfirmed one)."""
    session = request.dbsession
    row = secret_row(session, user)
    if row is not None and row.confirmed_at is not None:
        raise TwoFactorError("Two-factor sign-in is already on.", 409, field="")
    if row is None:
        row = TwoFactorSecret(user_id=user.id, company_id=user.company_id)
        session.add(row)
    row.secret_encrypted = encryptor(request.registry).encrypt(totp.new_secret())
    row.created_at = utcnow()
    row.last_used_step = None
    session.flush()
    return row


def pending_secret(request: Request, row: TwoFactorSecret) -> str | None:
    """The secret of an enrolment waiting for its first code, in clear (for the QR code)."""
    if row.confirmed_at is not None:
        return None
    try:
        return encryptor(request.registry).decrypt(row.secret_encrypted)
    except Undecryptable:
        return None  # unreadable after a key change: the user starts the set-up again


def confirm_enrolment(request: Request, user: User, raw_code: object) -> list[str]:
    """Turn second-factor sign-in on with the first code; returns the recovery codes (shown
    once). Sessions that waited for enrolment are free again."""
    session = request.dbsession
    row = secret_row(session, user)
    if row is None or row.confirmed_at is not None:
        raise TwoFactorError("Start the set-up again: there is no new secret waiting for a code.", 409, field="")
    code = _parse(raw_code, allow_recovery=False)
    _check(request, user, row, code, step="enrol")
    row.confirmed_at = utcnow()
    codes = _replace_recovery_codes(session, user)
    statement = (
        update(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.company_id == user.company_id,
            UserSession.needs_two_factor.is_(True),
        )
        .values(needs_two_factor=False)
        .execution_options(synchronize_session=False)
    )
    with unscoped(session):
        session.execute(statement)
    mark_changed(session)
    record(session, "auth.2fa_enrol", changes={"recovery_codes": len(codes)}, **_who(user, request))
    return codes


# --- checking a code ---------------------------------------------------------------------


def _parse(raw: object, allow_recovery: bool = True) -> totp.TypedCode:
    try:
        return totp.parse_code(raw, allow_recovery=allow_recovery)
    except totp.CodeFormatError as error:
        raise TwoFactorError(str(error)) from None


def verify_second_factor(
    request: Request, user: User, raw_code: object, *, step: str, allow_recovery: bool = True
) -> Accepted:
    """Check a code of an enrolled user (from the app, or a recovery code, which is then
    spent). Raises :class:`TwoFactorError`: 400 for a malformed or wrong code, 429 when
    the sign-in limits refuse the attempt."""
    row = _confirmed_secret(request.dbsession, user)
    return _check(request, user, row, _parse(raw_code, allow_recovery), step=step)


def _check(request: Request, user: User, row: TwoFactorSecret, code: totp.TypedCode, *, step: str) -> Accepted:
    session = request.dbsession
    guard = signin_guard(request.registry)
    attempt = guard.attempt(user.company.subscription_id, user.username, request.client_ip)
    refusal = guard.admit(attempt)
    if refusal is not None:
        raise TwoFactorError(wait_message(refusal.retry_after), 429, retry_after=refusal.retry_after)
    if code.kind == totp.TOTP:
        accepted, message = _accept_totp(request, row, code.value)
        result = Accepted(totp.TOTP) if accepted else None
    else:
        left = _spend_recovery_code(session, user, code.value)
        result = Accepted(totp.RECOVERY, left) if left is not None else None
        message = "That recovery code is not right, or it has been used already."
    if result is None:
        record(session, "auth.2fa_failed", changes={"step": step, "kind": code.kind}, **_who(user, request))
        locked, first = guard.failed(attempt)
        if first:
            record(session, "auth.lockout", changes={"minutes": guard.lockout_seconds // 60}, **_who(user, request))
        if locked:
            raise TwoFactorError(wait_message(guard.lockout_seconds), 429, retry_after=guard.lockout_seconds)
        raise TwoFactorError(message)
    guard.succeeded(attempt)
    if result.kind == totp.RECOVERY:
        record(
            session,
            "auth.2fa_recovery_used",
            changes={"step": step, "recovery_codes_left": result.recovery_codes_left},
            **_who(user, request),
        )
    return result


def _accept_totp(request: Request, row: TwoFactorSecret, code: str) -> tuple[bool, str]:
    try:
        secret = encryptor(request.registry).decrypt(row.secret_encrypted)
    except Undecryptable:
        log.error("second-factor secret of user %s cannot be decrypted: %s", row.user_id, UNREADABLE_HINT)
        raise TwoFactorError(UNREADABLE_SECRET, 503) from None
    step = totp.matching_step(secret, code)
    if step is None:
        return False, WRONG_CODE
    if row.last_used_step is not None and step <= row.last_used_step:
        return False, USED_CODE
    session = request.dbsession
    # Conditional: of two requests with the same code, only one moves the step forward.
    statement = (
        update(TwoFactorSecret)
        .where(
            TwoFactorSecret.id == row.id,
            TwoFactorSecret.company_id == row.company_id,
            (TwoFactorSecret.last_used_step.is_(None)) | (TwoFactorSecret.last_used_step < step),
        )
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    with unscoped(session):
        moved = session.execute(statement).rowcount == 1
    mark_changed(session)
    if not moved:
        return False, USED_CODE
    set_committed_value(row, "last_used_step", step)
    box = encryptor(request.registry)
    if not box.is_current(row.secret_encrypted):
        # ENCRYPTION_KEY has a new first key: the secret moves to it at its next use.
        row.secret_encrypted = box.rotate(row.secret_encrypted)
    return True, ""


def _spend_recovery_code(session: Session, user: User, code: str) -> int | None:
    """Spend a matching unused recovery code; the number left, or None when none matched."""
    with unscoped(session):
        unused = session.scalars(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.company_id == user.company_id,
                RecoveryCode.used_at.is_(None),
            )
        ).all()
        for candidate in unused:
            if not verify_password(candidate.code_hash, code):
                continue
            spent = session.execute(
                update(RecoveryCode)
                .where(
                    RecoveryCode.id == candidate.id,
                    RecoveryCode.company_id == user.company_id,
                    RecoveryCode.used_at.is_(None),
                )
                .values(used_at=utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount
            mark_changed(session)
            return len(unused) - 1 if spent == 1 else None
    return None


def _replace_recovery_codes(session: Session, user: User) -> list[str]:
    with unscoped(session):
        session.execute(
            delete(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.company_id == user.company_id)
            .execution_options(synchronize_session=False)
        )
        mark_changed(session)
        codes = totp.new_recovery_codes()
        now = utcnow()
        for code in codes:
            # The password hasher (its cost from the settings): a stolen table yields no code.
            session.add(
                RecoveryCode(user_id=user.id, company_id=user.company_id, code_hash=hash_password(code), created_at=now)
            )
        session.flush()
    return codes


# --- managing it -------------------------------------------------------------------------


def regenerate_recovery_codes(request: Request, user: User, raw_code: object) -> list[str]:
    """New recovery codes (the old ones stop working), after a valid code."""
    verify_second_factor(request, user, raw_code, step="regenerate")
    codes = _replace_recovery_codes(request.dbsession, user)
    record(
        request.dbsession, "auth.2fa_recovery_regenerate", changes={"recovery_codes": len(codes)}, **_who(user, request)
    )
    return codes


def disable(request: Request, user: User, password: object, raw_code: object) -> None:
    """Turn second-factor sign-in off: the password and a current code are both needed."""
    if user.company.require_two_factor:
        raise TwoFactorError(
            "Your company requires two-factor sign-in: it cannot be turned off. An owner can reset it for you.",
            403,
            field="",
        )
    if not isinstance(password, str) or not password:
        raise TwoFactorError("Enter your password.", field="password")
    code = _parse(raw_code)
    if not verify_password(user.password_hash, password):
        guard = signin_guard(request.registry)
        attempt = guard.attempt(user.company.subscription_id, user.username, request.client_ip)
        refusal = guard.admit(attempt)
        if refusal is not None:
            raise TwoFactorError(wait_message(refusal.retry_after), 429, retry_after=refusal.retry_after)
        record(
            request.dbsession, "auth.2fa_failed", changes={"step": "disable", "kind": "password"}, **_who(user, request)
        )
        guard.failed(attempt)
        raise TwoFactorError("The password is not correct.", field="password")
    _check(request, user, _confirmed_secret(request.dbsession, user), code, step="disable")
    _remove(request.dbsession, user)
    record(request.dbsession, "auth.2fa_disable", **_who(user, request))


def _remove(session: Session, user: User) -> None:
    with unscoped(session):
        for model in (RecoveryCode, TwoFactorSecret):
            for row in session.scalars(
                select(model).where(model.user_id == user.id, model.company_id == user.company_id)
            ):
                session.delete(row)
        session.flush()


def reset(request: Request, user: User) -> None:
    """An owner's (own company) or a super admin's reset of ``user``'s second factor: the
    user signs in with the password alone (and enrols again where it is required)."""
    identity = request.identity
    if identity.user_id == user.id:
        raise TwoFactorError("To turn off your own second factor, use Settings → Profile.", 400, field="")
    if secret_row(request.dbsession, user) is None:
        raise TwoFactorError(f"{user.username} has no second factor to reset.", 409, field="")
    _remove(request.dbsession, user)
    record(
        request.dbsession,
        "auth.2fa_reset",
        company_id=user.company_id,
        actor_id=identity.user_id,
        actor_name=identity.username,
        impersonator_id=identity.impersonator_id,
        target_type="user",
        target_id=user.id,
        changes={"username": user.username},
        ip=request.client_ip,
        user_agent=request.user_agent,
    )


def set_requirement(request: Request, company: Company, required: bool, acting_user: User) -> bool:
    """Require (or stop requiring) a second factor of every user of ``company``; whether
    anything changed."""
    if company.require_two_factor == required:
        return False
    if required and not is_enrolled(request.dbsession, acting_user):
        raise TwoFactorError(
            "Turn on two-factor sign-in for your own account first (Settings → Profile).", 400, field="required"
        )
    company.require_two_factor = required
    if not required:
        # Sessions still waiting for an enrolment are free again.
        with unscoped(request.dbsession):
            request.dbsession.execute(
                update(UserSession)
                .where(UserSession.company_id == company.id, UserSession.needs_two_factor.is_(True))
                .values(needs_two_factor=False)
                .execution_options(synchronize_session=False)
            )
        mark_changed(request.dbsession)
    identity = request.identity
    record(
        request.dbsession,
        "auth.2fa_require_on" if required else "auth.2fa_require_off",
        company_id=company.id,
        actor_id=identity.user_id,
        actor_name=identity.username,
        target_type="company",
        target_id=company.id,
        changes={"require_two_factor": {"from": not required, "to": required}},
        ip=request.client_ip,
        user_agent=request.user_agent,
    )
    return True


def users_without_two_factor(session: Session, company: Company) -> int:
    enrolled = select(TwoFactorSecret.user_id).where(
        TwoFactorSecret.company_id == company.id, TwoFactorSecret.confirmed_at.is_not(None)
    )
    with unscoped(session):
        return (
            session.scalar(
                select(func.count(User.id)).where(
                    User.company_id == company.id, User.is_active.is_(True), User.id.not_in(enrolled)
                )
            )
            or 0
        )


def needs_enrolment(session: Session, user: User) -> bool:
    """Does the company require a second factor that this user has not set up?"""
    return user.company.require_two_factor and not is_enrolled(session, user)


def enrolled_user_ids(session: Session, company_id: int, user_ids: list[int]) -> set[int]:
    """Which of these users have second-factor sign-in on (for lists of users)."""
    if not user_ids:
        return set()
    with unscoped(session):
        return set(
            session.scalars(
                select(TwoFactorSecret.user_id).where(
                    TwoFactorSecret.company_id == company_id,
                    TwoFactorSecret.user_id.in_(user_ids),
                    TwoFactorSecret.confirmed_at.is_not(None),
                )
            )
        )
