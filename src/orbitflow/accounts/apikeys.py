"""API keys: named, role-scoped credentials of a company, stored as hashes only.

A key is shown once, when it is created. It acts for the person who created it, as that
person is now: with the lower of its own role and the creator's current role (so demoting
the creator demotes the key), and not at all once the creator is deactivated or deleted.
It is never a super admin's.
"""

from __future__ import annotations

import secrets

from pyramid.request import Request
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from orbitflow.accounts.models import ApiKey, User
from orbitflow.accounts.users import AccountError
from orbitflow.audit.services import audit
from orbitflow.models.meta import utcnow
from orbitflow.security import COMPANY_ROLES, ROLE_LABELS, hash_api_key, lower_role, role_at_most

KEY_PREFIX = "ofk_"
NAME_MAX = 100


def new_raw_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def acting_role(key: ApiKey, creator: User | None) -> str | None:
    """The role ``key`` acts with now; None when it cannot act (creator gone or inactive)."""
    if creator is None or not creator.is_active or creator.company_id != key.company_id:
        return None
    return lower_role(key.role, creator.role)


def grantable_roles(creator_role: str) -> list[str]:
    """Roles a key made by someone of ``creator_role`` may have (highest first)."""
    return [role for role in COMPANY_ROLES if role_at_most(role, creator_role)]


def list_keys(session: Session) -> list[ApiKey]:
    """The company's keys (the session is bound to it), active ones first."""
    query = (
        select(ApiKey)
        .options(selectinload(ApiKey.created_by))
        .order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return list(session.scalars(query))


def create_key(request: Request, *, name: str, role: str) -> tuple[ApiKey, str]:
    """Create a key for the request's company; returns the row and the raw key (the only
    time it exists outside the caller's hands). Audited as ``apikey.create``."""
    identity = request.identity
    errors: dict[str, str] = {}
    name = " ".join((name or "").split()) if isinstance(name, str) else ""
    if not name:
        errors["name"] = "Name the key after what uses it, e.g. “Website form”."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Use at most {NAME_MAX} characters."
    if role not in COMPANY_ROLES:
        errors["role"] = f"Choose one of: {', '.join(COMPANY_ROLES)}."
    elif role not in grantable_roles(identity.role):
        label = ROLE_LABELS.get(identity.role, identity.role).lower()
        errors["role"] = f"A key cannot have a higher role than yours ({label})."
    if errors:
        raise AccountError(422, "Check the highlighted fields.", errors)
    raw = new_raw_key()
    key = ApiKey(
        company_id=identity.company_id,
        name=name,
        role=role,
        prefix=raw[: len(KEY_PREFIX) + 6],
        key_hash=hash_api_key(raw),
        created_by_id=identity.user_id or None,
    )
    request.dbsession.add(key)
    request.dbsession.flush()
    audit(request, "apikey.create", key, target_type="apikey", changes={"name": name, "role": role})
    return key, raw


def revoke_key(request: Request, key: ApiKey) -> bool:
    """Revoke; False when it was revoked already. Audited as ``apikey.revoke``."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    audit(request, "apikey.revoke", key, target_type="apikey", changes={"name": key.name})
    return True
