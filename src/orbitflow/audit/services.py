"""Writing audit entries: always in the caller's session, so the entry commits or rolls
back together with the change it describes."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from sqlalchemy.orm import Session

from orbitflow.audit.models import AuditEntry


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return str(value)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fields whose value changed, as ``{field: {"from": old, "to": new}}``."""
    return {
        key: {"from": _jsonable(before.get(key)), "to": _jsonable(after.get(key))}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def record(
    session: Session,
    action: str,
    *,
    company_id: int | None,
    actor_id: int | None = None,
    actor_name: str = "",
    impersonator_id: int | None = None,
    target_type: str | None = None,
    target_id: Any = None,
    changes: dict[str, Any] | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        company_id=company_id,
        actor_id=actor_id or None,
        actor_name=actor_name[:200],
        impersonator_id=impersonator_id,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        changes=_jsonable(changes) if changes else None,
        ip=ip,
        user_agent=(user_agent or "")[:300] or None,
    )
    session.add(entry)
    return entry


def audit(
    request: Request,
    action: str,
    target: Any = None,
    *,
    target_type: str | None = None,
    target_id: Any = None,
    changes: dict[str, Any] | None = None,
    company_id: int | None = None,
) -> AuditEntry:
    """Record ``action`` by the request's user; ``target`` may be any model with an ``id``."""
    identity = request.identity
    if target is not None:
        target_type = target_type or type(target).__name__.lower()
        target_id = target_id if target_id is not None else getattr(target, "id", None)
    if company_id is None and identity is not None:
        company_id = identity.company_id
    return record(
        request.dbsession,
        action,
        company_id=company_id,
        actor_id=identity.user_id if identity else None,
        actor_name=identity.username if identity else "",
        impersonator_id=identity.impersonator_id if identity else None,
        target_type=target_type,
        target_id=target_id,
        changes=changes,
        ip=request.client_ip,
        user_agent=request.user_agent,
    )


class AuditEntryIsAppendOnly(RuntimeError):
    """An audit entry was changed or deleted through the ORM."""


def refuse_audit_changes(session: Session, _flush_context, _instances) -> None:
    """``before_flush`` guard: audit entries are written once and never changed."""
    for obj in session.deleted:
        if isinstance(obj, AuditEntry):
            raise AuditEntryIsAppendOnly("audit entries cannot be deleted")
    for obj in session.dirty:
        if isinstance(obj, AuditEntry) and session.is_modified(obj):
            raise AuditEntryIsAppendOnly("audit entries cannot be changed")
