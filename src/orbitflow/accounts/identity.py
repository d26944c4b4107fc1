"""Who is making this request: from the session cookie (a server-side session) or a
Bearer API key."""

from __future__ import annotations

from pyramid.request import Request
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from orbitflow.accounts.apikeys import acting_role
from orbitflow.accounts.models import ApiKey, User
from orbitflow.accounts.sessions import find_session
from orbitflow.db import bind_company, unscoped
from orbitflow.models.meta import utcnow
from orbitflow.plugins import ReadOnlyPermissions, RolePermissions
from orbitflow.security import Identity, hash_api_key, uses_api_key
from orbitflow.shared import shared

# Last-used times of API keys are written at most this often, to keep API reads cheap.
API_KEY_TOUCH_SECONDS = 60


def load_identity(request: Request) -> Identity | None:
    if uses_api_key(request):
        raw_key = request.headers["Authorization"][len("Bearer ") :].strip()
        identity = _identity_from_api_key(request, raw_key)
    else:
        identity = _identity_from_session(request)
    if identity is not None:
        bind_company(request.dbsession, identity.company_id)
    return identity


def _permissions(request: Request, role: str) -> frozenset[str]:
    return shared(request.registry, RolePermissions).get(role, frozenset())


def _session_permissions(request: Request, role: str, *, impersonating: bool) -> frozenset[str]:
    permissions = _permissions(request, role)
    if impersonating:
        # Impersonation is read-only: what would change something is neither offered
        # (buttons, forms, drag and drop follow the permissions) nor allowed.
        permissions = permissions & shared(request.registry, ReadOnlyPermissions)
    return permissions


def _identity_from_api_key(request: Request, raw_key: str) -> Identity | None:
    """A key acts for its creator as the creator is now: never above the creator's current
    role, and not at all once the creator is deactivated or deleted (one joined read)."""
    if not raw_key:
        return None
    session = request.dbsession
    with unscoped(session):
        row = session.execute(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.created_by_id)
            .where(ApiKey.key_hash == hash_api_key(raw_key), ApiKey.revoked_at.is_(None))
        ).first()
    if row is None:
        return None
    key, creator = row
    role = acting_role(key, creator)
    if role is None or not key.company.is_active:
        return None
    _touch_api_key(request, key)
    return Identity(
        user_id=creator.id,
        company_id=key.company_id,
        role=role,
        # Audit rows of the key's use name the key and the person it acts for.
        username=f"api-key:{key.name} #{key.id} of {creator.username}",
        permissions=_permissions(request, role),
        api_key_id=key.id,
    )


def _touch_api_key(request: Request, key: ApiKey) -> None:
    """Record the last use in a transaction of its own: a request that fails (and rolls
    back) still used the key."""
    now = utcnow()
    if key.last_used_at is not None and (now - key.last_used_at).total_seconds() < API_KEY_TOUCH_SECONDS:
        return
    with shared(request.registry, Engine).begin() as connection:
        connection.execute(update(ApiKey.__table__).where(ApiKey.__table__.c.id == key.id).values(last_used_at=now))


def _identity_from_session(request: Request) -> Identity | None:
    found = find_session(request)
    if found is None:
        return None
    user, impersonator_id = found.user, found.row.impersonator_id
    return Identity(
        user_id=user.id,
        company_id=user.company_id,
        role=user.role,
        username=user.username,
        permissions=_session_permissions(request, user.role, impersonating=impersonator_id is not None),
        impersonator_id=impersonator_id,
        must_change_password=user.must_change_password and impersonator_id is None,
        must_enrol_two_factor=found.row.needs_two_factor and impersonator_id is None,
        session_id=found.row.id,
    )


def current_user(request: Request) -> User | None:
    """The signed-in user (None for anonymous requests and API keys)."""
    identity = request.identity
    if identity is None or identity.api_key_id is not None:
        return None
    return request.dbsession.get(User, identity.user_id)
