"""Reading the audit log: filters from request parameters, the scoped query, readable changes.

The audit log is not tenant-scoped by the ORM (super admins read across companies), so
every query built here takes the company scope explicitly: a company id for owners and
admins, ``None`` (everything) for super admins only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User
from orbitflow.audit.models import AuditEntry
from orbitflow.tenants.models import Company
from orbitflow.web.inputs import parse_id


@dataclass
class AuditFilters:
    actor: str = ""
    actor_id: int | None = None
    action: str = ""
    target_type: str = ""
    target_id: str = ""
    since: date | None = None
    until: date | None = None
    company_id: int | None = None

    def as_params(self) -> dict[str, str]:
        """The filters as query parameters (for paging and export links)."""
        params = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value not in (None, ""):
                params[field.name] = value.isoformat() if isinstance(value, date) else str(value)
        return params

    @property
    def active(self) -> bool:
        return bool(self.as_params())


def _parse_date(raw: str) -> date:
    """A day (``2026-05-01``) or an ISO 8601 time, of which the day counts."""
    raw = raw.strip()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).date()


def parse_filters(params: Mapping[str, str], *, allow_company: bool) -> tuple[AuditFilters, dict[str, str]]:
    """Filters from query parameters, with messages by field for the values that are wrong."""
    filters = AuditFilters()
    errors: dict[str, str] = {}
    for name in ("actor", "action", "target_type", "target_id"):
        value = (params.get(name) or "").strip()
        if len(value) > 200:
            errors[name] = "Use at most 200 characters."
        else:
            setattr(filters, name, value)
    ints = ["actor_id", *(["company_id"] if allow_company else [])]
    for name in ints:
        raw = params.get(name) or ""
        if raw.strip():
            # An id beyond the range stays (as NO_ROW) and matches nothing.
            value = parse_id(raw)
            if value is None:
                errors[name] = "Use a positive whole number."
            else:
                setattr(filters, name, value)
    for name in ("since", "until"):
        raw = params.get(name) or ""
        if raw.strip():
            try:
                setattr(filters, name, _parse_date(raw))
            except ValueError:
                errors[name] = "Use a date like 2026-05-31."
    if filters.since and filters.until and filters.since > filters.until:
        errors["until"] = "The end date is before the start date."
    return filters, errors


LIKE_ESCAPE = "!"


def escape_like(value: str) -> str:
    """Match ``%`` and ``_`` literally; "!" escapes alike on SQLite and MariaDB."""
    return value.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def audit_query(filters: AuditFilters, scope_company_id: int | None) -> Select:
    """Newest first. ``scope_company_id`` None means every company (super admins only)."""
    query = select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    if scope_company_id is not None:
        query = query.where(AuditEntry.company_id == scope_company_id)
    elif filters.company_id is not None:
        query = query.where(AuditEntry.company_id == filters.company_id)
    if filters.actor:
        query = query.where(AuditEntry.actor_name.ilike(f"%{escape_like(filters.actor)}%", escape=LIKE_ESCAPE))
    if filters.actor_id is not None:
        query = query.where(AuditEntry.actor_id == filters.actor_id)
    if filters.action:
        # "lead.*" or "lead." selects every lead action.
        prefix = filters.action.rstrip("*")
        if prefix.endswith("."):
            query = query.where(AuditEntry.action.like(f"{escape_like(prefix)}%", escape=LIKE_ESCAPE))
        else:
            query = query.where(AuditEntry.action == filters.action)
    if filters.target_type:
        query = query.where(AuditEntry.target_type == filters.target_type)
    if filters.target_id:
        query = query.where(AuditEntry.target_id == filters.target_id)
    if filters.since:
        query = query.where(AuditEntry.created_at >= datetime.combine(filters.since, time.min))
    if filters.until and filters.until < date.max:  # the last day there is has no end to compare with
        query = query.where(AuditEntry.created_at < datetime.combine(filters.until + timedelta(days=1), time.min))
    return query


def recent_actions(session: Session, scope_company_id: int | None, window: int = 5000) -> list[str]:
    """Action names seen in the newest entries of the scope, for the filter's suggestions.

    Bounded to a window of recent rows so the page stays cheap on a large log.
    """
    recent = select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(window)
    if scope_company_id is not None:
        recent = recent.where(AuditEntry.company_id == scope_company_id)
    sub = recent.subquery()
    return sorted(session.scalars(select(sub.c.action).distinct()).all())


def user_names(session: Session, user_ids: set[int]) -> dict[int, str]:
    """Usernames by id across companies (impersonators live in the platform company)."""
    if not user_ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all())


def company_names(session: Session, company_ids: set[int]) -> dict[int, str]:
    if not company_ids:
        return {}
    rows = session.execute(select(Company.id, Company.subscription_id).where(Company.id.in_(company_ids))).all()
    return dict(rows)


def _show(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        import json

        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def readable_changes(changes: dict[str, Any] | None) -> list[tuple[str, str, str | None]]:
    """``(field, before, after)`` rows; ``after`` is None for a plain detail (no before)."""
    rows: list[tuple[str, str, str | None]] = []
    for key, value in sorted((changes or {}).items()):
        if isinstance(value, dict) and set(value) == {"from", "to"}:
            rows.append((key, _show(value["from"]), _show(value["to"])))
        else:
            rows.append((key, _show(value), None))
    return rows


def changes_text(changes: dict[str, Any] | None) -> str:
    """One line for exports: ``name: Old → New; reason: inactive``."""
    parts = []
    for key, before, after in readable_changes(changes):
        parts.append(f"{key}: {before} → {after}" if after is not None else f"{key}: {before}")
    return "; ".join(parts)
