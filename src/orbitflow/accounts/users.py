"""Managing a company's users: the rules shared by Settings → Users, the API and the
super admin area.

Every function checks the acting identity's rights on the *target* (only owners touch
owners), keeps the company with at least one active owner, enforces the user quota, and
writes its audit entry in the caller's transaction. It raises :class:`AccountError` before
changing anything. The acting identity is ``request.identity``; the target company comes
from the arguments, so a super admin may call these inside ``unscoped()`` for any company.
"""

from __future__ import annotations

import secrets
from typing import Any

from pyramid.request import Request
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import hash_password, password_problems
from orbitflow.accounts.sessions import end_sessions_of
from orbitflow.accounts.validation import FieldError, normalise_email, normalise_name, normalise_username
from orbitflow.audit.services import audit, diff
from orbitflow.security import COMPANY_ROLES, OWNER, ROLE_LABELS, SUPER_ADMIN, Identity
from orbitflow.tenants.models import Company
from orbitflow.wording import plural

PLATFORM_ADMIN = "platform.admin"


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


class AccountError(Exception):
    """Refused: ``status`` is the HTTP status to answer, ``fields`` the messages by field."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}
        self.code = code


def user_fields(user: User) -> dict[str, Any]:
    """The audited fields of an account."""
    return {
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "is_active": user.is_active,
    }


def user_query(company_id: int, *, q: str | None = None, role: str | None = None, active: bool | None = None) -> Select:
    query = select(User).where(User.company_id == company_id)
    if q and q.strip():
        term = q.strip()
        query = query.where(
            or_(
                User.username.icontains(term, autoescape=True),
                User.name.icontains(term, autoescape=True),
                User.email.icontains(term, autoescape=True),
            )
        )
    if role:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.is_active.is_(active))
    return query.order_by(User.is_active.desc(), User.username)


def assignable_roles(identity: Identity, company: Company) -> list[str]:
    """Roles the identity may give to users of ``company`` (highest first)."""
    if company.is_platform:
        return [SUPER_ADMIN] if PLATFORM_ADMIN in identity.permissions else []
    return [role for role in COMPANY_ROLES if _may_hold_role(identity, role)]


def may_manage(identity: Identity, user: User) -> bool:
    """May the identity edit, deactivate or reset ``user``? (Only owners touch owners.)"""
    return _manages_users(identity) and _may_hold_role(identity, user.role)


def active_user_count(session: Session, company_id: int) -> int:
    return (
        session.scalar(select(func.count(User.id)).where(User.company_id == company_id, User.is_active.is_(True))) or 0
    )


def create_user(
    request: Request,
    company: Company,
    *,
    username: str,
    password: str,
    role: str,
    name: str | None = "",
    email: str | None = None,
    must_change_password: bool = False,
) -> User:
    """Add a user to ``company``; audited as ``user.create``."""
    identity = _require_manager(request)
    session = request.dbsession
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for field, normalise, raw in (
        ("username", normalise_username, username),
        ("name", normalise_name, name),
        ("email", normalise_email, email),
    ):
        if raw is not None and not isinstance(raw, str):
            errors[field] = "Use text."
            continue
        try:
            clean[field] = normalise(raw)
        except FieldError as error:
            errors[field] = str(error)
    role_error = _role_error(identity, company, role)
    if role_error:
        errors["role"] = role_error
    if not isinstance(password, str) or not password:
        errors["password"] = "Enter a password."
    else:
        problems = password_problems(
            password, username=clean.get("username") or "", company_slug=company.subscription_id
        )
        if problems:
            errors["password"] = " ".join(problems)
    _raise_for_role_rights(identity, company, role)
    _lock_company(session, company.id)
    if "username" in clean and _username_taken(session, company.id, clean["username"]):
        errors["username"] = "This username is taken in this company; choose another."
    if errors:
        only_conflict = set(errors) == {"username"} and "username" in clean
        raise AccountError(409 if only_conflict else 422, "Check the highlighted fields.", errors)
    _check_quota(session, company)
    user = User(
        company_id=company.id,
        username=clean["username"],
        name=clean["name"],
        email=clean["email"],
        role=role,
        password_hash=hash_password(password),
        must_change_password=bool(must_change_password),
    )
    session.add(user)
    session.flush()
    audit(request, "user.create", user, company_id=company.id, changes=diff({}, user_fields(user)))
    return user


def update_user(
    request: Request,
    user: User,
    *,
    name: str | None = UNSET,
    email: str | None = UNSET,
    role: str = UNSET,
    is_active: bool = UNSET,
) -> dict[str, Any]:
    """Change name, email, role or active state; returns the audited changes.

    Deactivating or reactivating through here is audited as ``user.deactivate`` /
    ``user.reactivate``; other changes as ``user.update`` with before and after.
    """
    identity = _require_manager(request)
    _require_may_manage(identity, user)
    session = request.dbsession
    company = user.company
    errors: dict[str, str] = {}
    after = user_fields(user)
    for field, normalise, raw in (("name", normalise_name, name), ("email", normalise_email, email)):
        if raw is UNSET:
            continue
        if raw is not None and not isinstance(raw, str):
            errors[field] = "Use text."
            continue
        try:
            after[field] = normalise(raw)
        except FieldError as error:
            errors[field] = str(error)
    if role is not UNSET and role != user.role:
        role_error = _role_error(identity, company, role)
        if role_error:
            errors["role"] = role_error
        elif _is_self(identity, user):
            errors["role"] = "You cannot change your own role; ask another owner or admin."
        else:
            _raise_for_role_rights(identity, company, role)
            after["role"] = role
    if is_active is not UNSET:
        if not isinstance(is_active, bool):
            errors["is_active"] = "Use true or false."
        else:
            after["is_active"] = is_active
    if errors:
        raise AccountError(422, "Check the highlighted fields.", errors)
    before = user_fields(user)
    if after == before:
        return {}
    _lock_company(session, company.id)
    if before["is_active"] and not after["is_active"]:
        _check_may_deactivate(identity, user)
    if before["role"] == OWNER and before["is_active"] and (after["role"] != OWNER or not after["is_active"]):
        _keep_an_owner(session, user, "deactivate" if not after["is_active"] else "demote")
    if after["is_active"] and not before["is_active"]:
        _check_quota(session, company)
    user.name, user.email, user.role, user.is_active = after["name"], after["email"], after["role"], after["is_active"]
    if not user.is_active:
        end_sessions_of(session, user, "deactivated")  # signed out at once, on every device
    changes = diff(before, after)
    active_change = changes.pop("is_active", None)
    if changes:
        audit(request, "user.update", user, company_id=user.company_id, changes=changes)
    if active_change is not None:
        action = "user.reactivate" if user.is_active else "user.deactivate"
        audit(request, action, user, company_id=user.company_id, changes={"is_active": active_change})
        changes["is_active"] = active_change
    return changes


def deactivate_user(request: Request, user: User) -> bool:
    """Deactivate; False when the user was inactive already."""
    return bool(update_user(request, user, is_active=False))


def reactivate_user(request: Request, user: User) -> bool:
    """Reactivate (counts against the quota); False when the user was active already."""
    return bool(update_user(request, user, is_active=True))


def reset_password(request: Request, user: User, password: str | None = None) -> str:
    """Give ``user`` a temporary password (``password`` or a generated one) that must be
    changed at the next sign-in; ends the user's sessions. Returns the temporary password, to
    be shown once."""
    identity = _require_manager(request)
    _require_may_manage(identity, user)
    slug = user.company.subscription_id
    if password:
        problems = password_problems(password, username=user.username, company_slug=slug)
        if problems:
            raise AccountError(422, "Check the highlighted fields.", {"password": " ".join(problems)})
    else:
        password = generate_password(user.username, slug)
    user.password_hash = hash_password(password)
    user.must_change_password = True
    end_sessions_of(request.dbsession, user, "password_reset")
    audit(request, "user.password_reset", user, company_id=user.company_id, changes={"must_change_password": True})
    return password


def generate_password(username: str, company_slug: str) -> str:
    while True:
        password = secrets.token_urlsafe(12)
        if not password_problems(password, username=username, company_slug=company_slug):
            return password


# --- rules -------------------------------------------------------------------------------


def _manages_users(identity: Identity) -> bool:
    return bool({"users.manage", PLATFORM_ADMIN} & identity.permissions)


def _may_hold_role(identity: Identity, role: str) -> bool:
    if PLATFORM_ADMIN in identity.permissions:
        return True
    if role == OWNER:
        return "owners.manage" in identity.permissions
    return role in COMPANY_ROLES and "users.manage" in identity.permissions


def _require_manager(request: Request) -> Identity:
    identity = request.identity
    if identity is None or not _manages_users(identity):
        raise AccountError(403, "Your role may not manage users.")
    return identity


def _require_may_manage(identity: Identity, user: User) -> None:
    if not may_manage(identity, user):
        raise AccountError(403, "Only an owner can change an owner's account.")


def _role_error(identity: Identity, company: Company, role: Any) -> str | None:
    """A message when ``role`` is not a role of this kind of company."""
    allowed = [SUPER_ADMIN] if company.is_platform else list(COMPANY_ROLES)
    if role not in allowed:
        return f"Choose one of: {', '.join(allowed)}."
    return None


def _raise_for_role_rights(identity: Identity, company: Company, role: Any) -> None:
    """403 when the role exists but this identity may not give it."""
    if _role_error(identity, company, role) is None and role not in assignable_roles(identity, company):
        label = ROLE_LABELS.get(role, role)
        raise AccountError(
            403, f"Your role may not give the {label} role.", {"role": f"Only an owner can give the {label} role."}
        )


def _is_self(identity: Identity, user: User) -> bool:
    return identity.api_key_id is None and identity.user_id == user.id


def _check_may_deactivate(identity: Identity, user: User) -> None:
    if _is_self(identity, user):
        raise AccountError(409, "You cannot deactivate your own account.", code="conflict")


def _keep_an_owner(session: Session, user: User, verb: str) -> None:
    others = session.scalar(
        select(func.count(User.id)).where(
            User.company_id == user.company_id,
            User.role == OWNER,
            User.is_active.is_(True),
            User.id != user.id,
        )
    )
    if not others:
        raise AccountError(
            409,
            f"You cannot {verb} the company's last active owner: make another user an owner first.",
            code="last_owner",
        )


def _check_quota(session: Session, company: Company) -> None:
    count = active_user_count(session, company.id)
    if count >= company.max_users:
        raise AccountError(
            409,
            f"The company's plan allows {plural(company.max_users, 'active user')} and all are in use. "
            "Deactivate a user or move to a bigger plan.",
            code="quota_exceeded",
        )


def _username_taken(session: Session, company_id: int, username: str) -> bool:
    return (
        session.scalar(select(User.id).where(User.company_id == company_id, func.lower(User.username) == username))
        is not None
    )


def _lock_company(session: Session, company_id: int) -> None:
    """Serialise changes to one company's users: the quota, the last-owner rule and
    username uniqueness are checked and written under this lock (MariaDB; SQLite has a
    single writer anyway)."""
    session.execute(select(Company.id).where(Company.id == company_id).with_for_update())
