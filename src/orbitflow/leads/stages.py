"""Pipeline stages of a company: the defaults, and adding, changing, reordering and
removing stages (a removed stage's leads go to a stage the person chooses)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from orbitflow.audit.services import diff, record
from orbitflow.leads.models import STAGE_KINDS, Lead, LeadActivity, Stage
from orbitflow.leads.positions import LIMIT, bottom_position, lock_stage, renumber_stage
from orbitflow.models.meta import utcnow

DEFAULT_STAGES = (
    ("New", "#6366f1", "open"),
    ("Contacted", "#0ea5e9", "open"),
    ("Qualified", "#14b8a6", "open"),
    ("Proposal", "#f59e0b", "open"),
    ("Won", "#22c55e", "won"),
    ("Lost", "#ef4444", "lost"),
)
PALETTE = ("#6366f1", "#0ea5e9", "#14b8a6", "#f59e0b", "#22c55e", "#ef4444", "#a855f7", "#ec4899", "#64748b")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_STAGES = 30


class StageError(ValueError):
    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.fields = fields or {}


def create_default_stages(session: Session, company_id: int) -> list[Stage]:
    stages = [
        Stage(company_id=company_id, name=name, color=color, kind=kind, position=index)
        for index, (name, color, kind) in enumerate(DEFAULT_STAGES)
    ]
    session.add_all(stages)
    return stages


def _audit(session: Session, action: str, stage_id: int, company_id: int, actor_id, audit_info, changes) -> None:
    info = audit_info
    record(
        session,
        action,
        company_id=company_id,
        actor_id=actor_id,
        actor_name=info.actor_name if info else "",
        impersonator_id=info.impersonator_id if info else None,
        target_type="stage",
        target_id=stage_id,
        changes=changes,
        ip=info.ip if info else None,
        user_agent=info.user_agent if info else None,
    )


def _ordered(session: Session, company_id: int) -> list[Stage]:
    return list(session.scalars(select(Stage).where(Stage.company_id == company_id).order_by(Stage.position, Stage.id)))


def _clean(session: Session, company_id: int, values: Mapping[str, Any], stage: Stage | None) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if "name" in values or stage is None:
        name = " ".join(str(values.get("name") or "").split())
        if not name:
            errors["name"] = "Name the stage."
        elif len(name) > 64:
            errors["name"] = "Use at most 64 characters."
        else:
            clash = [s for s in _ordered(session, company_id) if s.name.lower() == name.lower() and s is not stage]
            if clash:
                errors["name"] = f"There is already a stage called {clash[0].name}."
        clean["name"] = name
    if "color" in values and values["color"] not in (None, ""):
        color = str(values["color"]).strip()
        if not COLOR_RE.match(color):
            errors["color"] = "Use a colour like #22c55e."
        clean["color"] = color.lower()
    if "kind" in values:
        kind = str(values.get("kind") or "").strip().lower()
        if kind not in STAGE_KINDS:
            errors["kind"] = f"Choose one of {', '.join(STAGE_KINDS)}."
        clean["kind"] = kind
    if errors:
        raise StageError("Some fields are not valid.", errors)
    return clean


def _renumber(stages: list[Stage]) -> None:
    for index, stage in enumerate(stages):
        if stage.position != index:
            stage.position = index


def create_stage(
    session: Session,
    *,
    company_id: int,
    name: Any,
    color: Any = None,
    kind: str = "open",
    index: int | None = None,
    actor_id: int | None = None,
    audit_info=None,
) -> Stage:
    existing = _ordered(session, company_id)
    if len(existing) >= MAX_STAGES:
        raise StageError(f"A pipeline can have at most {MAX_STAGES} stages.")
    clean = _clean(session, company_id, {"name": name, "color": color, "kind": kind}, None)
    clean.setdefault("color", PALETTE[len(existing) % len(PALETTE)])
    stage = Stage(company_id=company_id, position=len(existing), **clean)
    session.add(stage)
    ordered = existing[:]
    ordered.insert(len(existing) if index is None else max(0, min(index, len(existing))), stage)
    _renumber(ordered)
    session.flush()
    _audit(
        session,
        "stage.create",
        stage.id,
        company_id,
        actor_id,
        audit_info,
        diff({}, {"name": stage.name, "color": stage.color, "kind": stage.kind, "position": stage.position}),
    )
    return stage


def update_stage(
    session: Session, stage: Stage, values: Mapping[str, Any], *, actor_id: int | None = None, audit_info=None
) -> dict[str, Any]:
    clean = _clean(session, stage.company_id, values, stage)
    before = {key: getattr(stage, key) for key in clean}
    for key, value in clean.items():
        setattr(stage, key, value)
    changes = diff(before, {key: getattr(stage, key) for key in clean})
    if changes:
        session.flush()
        _audit(session, "stage.update", stage.id, stage.company_id, actor_id, audit_info, changes)
    return changes


def reorder_stages(
    session: Session, company_id: int, ordered_ids: list[int], *, actor_id=None, audit_info=None
) -> bool:
    """Put the stages in the order of ``ordered_ids`` (every stage exactly once)."""
    stages = _ordered(session, company_id)
    by_id = {stage.id: stage for stage in stages}
    if sorted(ordered_ids) != sorted(by_id):
        raise StageError("List every stage exactly once.")
    before = [stage.id for stage in stages]
    if before == list(ordered_ids):
        return False
    _renumber([by_id[stage_id] for stage_id in ordered_ids])
    session.flush()
    _audit(
        session,
        "stage.reorder",
        None,
        company_id,
        actor_id,
        audit_info,
        {"order": {"from": before, "to": list(ordered_ids)}},
    )
    return True


def place_stage(session: Session, stage: Stage, index: int, *, actor_id=None, audit_info=None) -> bool:
    """Move one stage to the 0-based place ``index``."""
    ids = [s.id for s in _ordered(session, stage.company_id) if s.id != stage.id]
    ids.insert(max(0, min(index, len(ids))), stage.id)
    return reorder_stages(session, stage.company_id, ids, actor_id=actor_id, audit_info=audit_info)


def lead_count(session: Session, stage: Stage) -> int:
    return session.scalar(select(func.count()).select_from(Lead).where(Lead.stage_id == stage.id)) or 0


def delete_stage(
    session: Session, stage: Stage, *, move_to_id: int | None, actor_id: int | None = None, audit_info=None
) -> int:
    """Remove ``stage``; its leads go to the end of ``move_to_id``. Returns how many moved."""
    stages = _ordered(session, stage.company_id)
    if len(stages) <= 1:
        raise StageError("A pipeline needs at least one stage.")
    count = lead_count(session, stage)
    target = None
    if move_to_id is not None:
        target = next((s for s in stages if s.id == move_to_id and s.id != stage.id), None)
        if target is None:
            raise StageError("Choose another stage of this pipeline for its leads.", {"move_to": "not a stage"})
    if count and target is None:
        raise StageError(
            f"{stage.name} holds {count} lead{'s' if count != 1 else ''}: choose the stage they move to.",
            {"move_to": "required"},
        )
    if count:
        lock_stage(session, target.id)
        start = bottom_position(session, target.id)
        lowest = session.scalar(select(func.min(Lead.position)).where(Lead.stage_id == stage.id)) or 0
        moved_ids = session.scalars(select(Lead.id).where(Lead.stage_id == stage.id)).all()
        session.execute(
            update(Lead)
            .where(Lead.stage_id == stage.id)
            .values(
                stage_id=target.id,
                position=Lead.position - lowest + start,
                version=Lead.version + 1,
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        now = utcnow()
        session.execute(
            insert(LeadActivity),
            [
                {
                    "company_id": stage.company_id,
                    "lead_id": lead_id,
                    "actor_id": actor_id,
                    "kind": "moved",
                    "data": {
                        "from": stage.name,
                        "to": target.name,
                        "from_id": stage.id,
                        "to_id": target.id,
                        "reason": "stage removed",
                    },
                    "created_at": now,
                }
                for lead_id in moved_ids
            ],
        )
        mark_changed(session)
        highest = session.scalar(select(func.max(Lead.position)).where(Lead.stage_id == target.id)) or 0
        if highest > LIMIT:
            renumber_stage(session, target.id)
    stage_id, name = stage.id, stage.name
    session.delete(stage)
    _renumber([s for s in stages if s.id != stage_id])
    session.flush()
    _audit(
        session,
        "stage.delete",
        stage_id,
        stage.company_id,
        actor_id,
        audit_info,
        {"name": {"from": name, "to": None}, "moved_leads": {"from": count, "to": target.id if target else None}},
    )
    return count
