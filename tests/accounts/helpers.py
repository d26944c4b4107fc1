"""Helpers of the accounts tests: JSON calls, audit read-back, crafted session cookies."""

from __future__ import annotations

import time

import webtest
from sqlalchemy import select
from webob import Request as WebObRequest

from orbitflow.accounts.models import User
from orbitflow.audit.models import AuditEntry
from orbitflow.config import load_settings
from orbitflow.security import SESSION_COOKIE, session_profile
from support import csrf_token


def api(client: webtest.TestApp, method: str, path: str, body=None, status="*", headers=None):
    """A JSON request as the product's own JavaScript makes it (CSRF header included)."""
    headers = dict(headers or {})
    if method.upper() not in {"GET", "HEAD", "OPTIONS"} and "Authorization" not in headers:
        headers.setdefault("X-CSRF-Token", csrf_token(client))
    if body is not None:
        return getattr(client, f"{method.lower()}_json")(path, body, headers=headers, status=status)
    return getattr(client, method.lower())(path, headers=headers, status=status)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def audit_actions(db, company_id: int | None = None, prefix: str = "") -> list[str]:
    db.expire_all()
    query = select(AuditEntry.action).order_by(AuditEntry.id)
    if company_id is not None:
        query = query.where(AuditEntry.company_id == company_id)
    return [action for action in db.scalars(query) if action.startswith(prefix)]


def audit_rows(db, action: str) -> list[AuditEntry]:
    db.expire_all()
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def fresh(db, row):
    """``row`` as the database has it now (read through a new transaction)."""
    db.expire_all()
    db.rollback()
    return db.get(type(row), row.id)


def session_cookie(backend, payload: dict) -> str:
    """A session cookie value signed with the tests' secret, as the server writes it."""
    settings = load_settings(backend.ini(), environ={})
    headers = session_profile(settings).bind(WebObRequest.blank("/")).get_headers(payload)
    name, _, rest = headers[0][1].partition("=")
    assert name == SESSION_COOKIE
    return rest.split(";", 1)[0]


def session_payload(user: User, *, issued_ago: int = 0, seen_ago: int = 0, **extra) -> dict:
    now = int(time.time())
    return {"u": user.id, "v": user.session_version, "iat": now - issued_ago, "seen": now - seen_ago, **extra}
