"""Users of any company, managed by super admins: create, reset password, (de)activate.

Every function crosses tenants on purpose, runs inside ``unscoped()``, flushes before
returning (so rows are written while the bypass holds) and records its audit entry in
the user's company, in the request's transaction. Refusals raise :class:`UserError`
before anything changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from pyramid.request import Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import hash_password, password_problems
from orbitflow.audit.services import audit, diff
from orbitflow.db import unscoped
from orbitflow.security import COMPANY_ROLES, OWNER, SUPER_ADMIN
from orbitflow.tenants.models import Company

USERNAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
USERNAME_TAKEN = "This username is taken in this company; choose another."
USER_FIELDS = ("username", "name", "email", "role", "is_active")


class UserError(ValueError):
    """Refused: ``status`` is the HTTP status an API answers, ``fields`` the messages by field."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}
        self.code = code


@dataclass(frozen=True)
class NewUser:
    username: str
    password: str
    role: str
    name: str = ""
    email: str = ""
    must_change_password: bool = True


def roles_for(company: Company) -> tuple[str, ...]:
    """The platform company holds super admins only; other companies every other role."""
    return (SUPER_ADMIN,) if company.is_platform else COMPANY_ROLES


def user_snapshot(user: User) -> dict[str, object]:
    return {key: getattr(user, key) for key in USER_FIELDS}


def _active_users(session: Session, company_id: int, role: str | None = None) -> int:
    query = select(func.count()).select_from(User).where(User.company_id == company_id, User.is_active.is_(True))
    if role is not None:
        query = query.where(User.role == role)
    return session.scalar(query) or 0


def _check_quota(session: Session, company: Company) -> None:
    active = _active_users(session, company.id)
    if not company.is_platform and active >= company.max_users:
        raise UserError(
            409,
            f"{company.name} has {active} active users, all its quota allows. "
            "Raise the quota on the company's page or deactivate a user first.",
            code="quota_exceeded",
        )


def _validate(company: Company, data: NewUser) -> tuple[dict[str, str], str, str | None]:
    errors: dict[str, str] = {}
    username = data.username.strip().lower()
    if not username:
        errors["username"] = "Enter a username."
    elif not USERNAME_RE.match(username):
        errors["username"] = (
            "Use up to 64 letters, digits, dots, dashes and underscores, starting and ending with a letter or digit."
        )
    if data.role not in roles_for(company):
        errors["role"] = f"Choose one of: {', '.join(roles_for(company))}."
    if len(data.name.strip()) > 200:
        errors["name"] = "Use at most 200 characters."
    email = None
    if data.email.strip():
        try:
            email = validate_email(data.email.strip(), check_deliverability=False).normalized
        except EmailNotValidError as error:
            errors["email"] = str(error)
    if not data.password:
        errors["password"] = "Enter a password."
    else:
        problems = password_problems(data.password, username=username, company_slug=company.subscription_id)
        if problems:
            errors["password"] = " ".join(problems)
    return errors, username, email


def create_company_user(request: Request, company: Company, data: NewUser) -> User:
    """Create a user in ``company``; audited there as ``user.create``."""
    session = request.dbsession
    errors, username, email = _validate(company, data)
    with unscoped(session):
        if "username" not in errors:
            clash = select(User.id).where(User.company_id == company.id, func.lower(User.username) == username)
            if session.scalar(clash) is not None:
                errors["username"] = USERNAME_TAKEN
        if errors:
            conflict = errors == {"username": USERNAME_TAKEN}
            raise UserError(409 if conflict else 422, "Check the highlighted fields.", errors)
        _check_quota(session, company)
        user = User(
            company_id=company.id,
            username=username,
            name=" ".join(data.name.split()),
            email=email,
            role=data.role,
            password_hash=hash_password(data.password),
            must_change_password=data.must_change_password,
        )
        session.add(user)
        session.flush()
        audit(request, "user.create", user, changes=diff({}, user_snapshot(user)), company_id=company.id)
        session.flush()
    return user


def reset_user_password(request: Request, user: User, new_password: str) -> None:
    """Set a temporary password the user must change at the next sign-in.

    Ends the user's sessions and lifts a lockout; audited as ``user.password_reset``.
    """
    problems = password_problems(new_password, username=user.username, company_slug=user.company.subscription_id)
    if not new_password:
        problems = ["Enter a password."]
    if problems:
        raise UserError(422, "Check the highlighted fields.", {"password": " ".join(problems)})
    with unscoped(request.dbsession):
        user.password_hash = hash_password(new_password)
        user.must_change_password = True
        user.session_version += 1
        user.failed_logins = 0
        user.locked_until = None
        audit(request, "user.password_reset", user, changes={"must_change_password": True}, company_id=user.company_id)
        request.dbsession.flush()


def set_user_active(request: Request, user: User, active: bool) -> bool:
    """Deactivate (ending the user's sessions) or reactivate; False when nothing changed.

    Nobody deactivates themselves, a company keeps an active owner, and reactivation
    counts against the quota.
    """
    if user.is_active == active:
        return False
    session = request.dbsession
    with unscoped(session):
        if not active:
            if user.id == request.identity.user_id:
                raise UserError(409, "You cannot deactivate your own account.")
            if user.role in (OWNER, SUPER_ADMIN) and _active_users(session, user.company_id, user.role) <= 1:
                what = "super admin" if user.role == SUPER_ADMIN else "owner of the company"
                raise UserError(
                    409, f"{user.username} is the last active {what}; create another one first.", code="last_owner"
                )
            user.session_version += 1
        else:
            _check_quota(session, user.company)
        user.is_active = active
        action = "user.reactivate" if active else "user.deactivate"
        audit(
            request,
            action,
            user,
            changes=diff({"is_active": not active}, {"is_active": active}),
            company_id=user.company_id,
        )
        session.flush()
    return True
