"""Helpers of the accounts tests: JSON calls, audit read-back, sessions without the form."""

from __future__ import annotations

import webtest
from sqlalchemy import select

from orbitflow.accounts.models import User
from orbitflow.accounts.sessions import issue_session
from orbitflow.audit.models import AuditEntry
from orbitflow.config import get_settings
from orbitflow.security import SESSION_COOKIE
from support import BROWSER, csrf_token

FIREFOX = BROWSER


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


def new_session(client: webtest.TestApp, db, user: User, **session_kw):
    """Give ``client`` a new server-side session of ``user``, as the login form would;
    returns the session's row."""
    settings = get_settings(client.app.registry)
    issued = issue_session(db, settings, user, **{"ip": "10.0.0.2", "user_agent": FIREFOX, **session_kw})
    db.commit()
    client.set_cookie(SESSION_COOKIE, issued.cookie_value)
    return issued.row
