"""Who is making this request: from the session cookie or a Bearer API key."""

from __future__ import annotations

import time

from pyramid.request import Request
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from orbitflow.accounts.apikeys import acting_role
from orbitflow.accounts.models import ApiKey, User
from orbitflow.config import get_settings
from orbitflow.db import bind_company, unscoped
from orbitflow.models.meta import utcnow
from orbitflow.plugins import RolePermissions
from orbitflow.security import (
    SESSION_COOKIE,
    SESSION_REFRESH_SECONDS,
    SUPER_ADMIN,
    Identity,
    hash_api_key,
    read_session,
    remember,
    uses_api_key,
)
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
    payload = read_session(request)
    if not payload:
        return None
    settings = get_settings(request.registry)
    now = int(time.time())
    try:
        user_id, version = int(payload["u"]), int(payload["v"])
        issued, seen = int(payload["iat"]), int(payload["seen"])
        impersonator_id = int(payload["imp"]) if payload.get("imp") is not None else None
        impersonator_version = int(payload["iv"]) if impersonator_id is not None else None
    except (KeyError, TypeError, ValueError):
        return None
    if now - seen > settings.session_idle_seconds or now - issued > settings.session_absolute_seconds:
        return None
    if seen > now + SESSION_REFRESH_SECONDS or issued > seen:
        return None  # from the future: not a cookie this server wrote
    session = request.dbsession
    with unscoped(session):
        user = session.get(User, user_id)
        if impersonator_id is not None:
            impersonator = session.get(User, impersonator_id)
            if (
                impersonator is None
                or not impersonator.is_active
                or impersonator.role != SUPER_ADMIN
                or impersonator.session_version != impersonator_version
            ):
                return None
    if user is None or not user.is_active or user.session_version != version:
        return None
    if not user.company.is_active and not user.company.is_platform:
        return None
    if now - seen > SESSION_REFRESH_SECONDS:
        _refresh_cookie(request, user, impersonator_id, issued)
    return Identity(
        user_id=user.id,
        company_id=user.company_id,
        role=user.role,
        username=user.username,
        permissions=_permissions(request, user.role),
        impersonator_id=impersonator_id,
        must_change_password=user.must_change_password and impersonator_id is None,
    )


def _refresh_cookie(request: Request, user: User, impersonator_id: int | None, issued: int) -> None:
    """Slide the idle time-out; the absolute time-out keeps the original issue time."""
    headers = remember(request, user, impersonator_id, issued_at=issued)

    def set_cookie(_request, response):
        # A response that signs in, out or anew (login, logout, password change) has the
        # last word: the refreshed old cookie must not override it.
        for name, value in response.headerlist:
            if name.lower() == "set-cookie" and value.startswith(f"{SESSION_COOKIE}="):
                return
        for name, value in headers:
            response.headerlist.append((name, value))

    request.add_response_callback(set_cookie)


def current_user(request: Request) -> User | None:
    """The signed-in user (None for anonymous requests and API keys)."""
    identity = request.identity
    if identity is None or identity.api_key_id is not None:
        return None
    return request.dbsession.get(User, identity.user_id)
