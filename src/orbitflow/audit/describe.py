"""The audit log in people's words: stage and user ids become names, order keys are left
out, and a move reads "moved from Qualified to Proposal"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User
from orbitflow.audit.models import AuditEntry
from orbitflow.audit.queries import readable_changes
from orbitflow.leads.models import Lead, Stage

# Internal bookkeeping that means nothing to a reader of the log.
HIDDEN_FIELDS = frozenset({"position", "version"})
STAGE_FIELDS = frozenset({"stage_id"})
USER_FIELDS = frozenset({"owner_id", "user_id", "assigned_to"})


@dataclass
class Names:
    stages: dict[int, str] = field(default_factory=dict)
    users: dict[int, str] = field(default_factory=dict)
    leads: dict[int, str] = field(default_factory=dict)


def _ids(value: Any) -> Iterable[int]:
    values = [value.get("from"), value.get("to")] if isinstance(value, dict) else [value]
    return [v for v in values if isinstance(v, int)]


def _target_number(entry: AuditEntry) -> int | None:
    """Targets are stored as text (some are not numbers)."""
    return int(entry.target_id) if entry.target_id and entry.target_id.isdigit() else None


def load_names(session: Session, entries: Iterable[AuditEntry]) -> Names:
    """Every name the page needs, in three queries (call inside ``unscoped()``)."""
    stages: set[int] = set()
    users: set[int] = set()
    leads: set[int] = set()
    for entry in entries:
        for key, value in (entry.changes or {}).items():
            if key in STAGE_FIELDS:
                stages.update(_ids(value))
            elif key in USER_FIELDS:
                users.update(_ids(value))
        target = _target_number(entry)
        if target is not None and entry.target_type == "user":
            users.add(target)
        elif target is not None and entry.target_type == "lead":
            leads.add(target)
    names = Names()
    if stages:
        names.stages = dict(session.execute(select(Stage.id, Stage.name).where(Stage.id.in_(stages))).all())
    if users:
        rows = session.execute(select(User.id, User.name, User.username).where(User.id.in_(users))).all()
        names.users = {uid: name or username for uid, name, username in rows}
    if leads:
        names.leads = dict(session.execute(select(Lead.id, Lead.name).where(Lead.id.in_(leads))).all())
    return names


def _named(key: str, value: Any, names: Names) -> Any:
    table = names.stages if key in STAGE_FIELDS else names.users if key in USER_FIELDS else None
    if table is None or not isinstance(value, int):
        return value
    return table.get(value, f"#{value} (deleted)")


def _label(key: str) -> str:
    return key.removesuffix("_id").replace("_", " ")


def summary(entry: AuditEntry, names: Names) -> str | None:
    """One sentence for the entries people look for most."""
    stage = (entry.changes or {}).get("stage_id")
    if entry.action == "lead.move" and isinstance(stage, dict):
        before, after = _named("stage_id", stage.get("from"), names), _named("stage_id", stage.get("to"), names)
        return f"moved from {before} to {after}"
    return None


def change_rows(entry: AuditEntry, names: Names) -> list[tuple[str, str, str | None]]:
    """``(label, before, after)`` rows with names for ids and bookkeeping left out."""
    changes: dict[str, Any] = {}
    for key, value in (entry.changes or {}).items():
        if key in HIDDEN_FIELDS:
            continue
        if isinstance(value, dict) and set(value) == {"from", "to"}:
            value = {"from": _named(key, value["from"], names), "to": _named(key, value["to"], names)}
        else:
            value = _named(key, value, names)
        changes[_label(key) if key in STAGE_FIELDS | USER_FIELDS else key] = value
    return readable_changes(changes)


def target_label(entry: AuditEntry, names: Names) -> str:
    """``lead Dora Dragged`` or ``user Olga Owner`` rather than ``user #8``."""
    if not entry.target_type:
        return ""
    table = {"user": names.users, "lead": names.leads}.get(entry.target_type, {})
    number = _target_number(entry)
    name = table.get(number) if number is not None else None
    if name:
        return f"{entry.target_type} {name}"
    return f"{entry.target_type} #{entry.target_id}" if entry.target_id else entry.target_type
