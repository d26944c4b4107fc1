"""What the signed-in home shows: the company's numbers, recent activity, plugin widgets."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pluggy import PluginManager
from pyramid.request import Request
from sqlalchemy import and_, func, or_, select

from orbitflow.accounts.first_steps import first_steps
from orbitflow.accounts.models import User
from orbitflow.audit.describe import load_names, summary, target_label
from orbitflow.audit.models import AuditEntry
from orbitflow.leads.models import Lead, Stage
from orbitflow.plugins import collect
from orbitflow.shared import shared

RECENT_ACTIVITY = 10


@dataclass(frozen=True)
class StageCount:
    id: int
    name: str
    color: str
    kind: str
    leads: int
    value: Decimal


def stage_counts(request: Request) -> list[StageCount]:
    """Leads (and their value) per stage, in one grouped query.

    Agents count what they may see: their own leads and unassigned ones.
    """
    identity = request.identity
    on = Lead.stage_id == Stage.id
    if "leads.view_all" not in identity.permissions:
        on = and_(on, or_(Lead.owner_id == identity.user_id, Lead.owner_id.is_(None)))
    rows = request.dbsession.execute(
        select(
            Stage.id,
            Stage.name,
            Stage.color,
            Stage.kind,
            func.count(Lead.id),
            func.coalesce(func.sum(Lead.value), 0),
        )
        .outerjoin(Lead, on)
        .group_by(Stage.id, Stage.name, Stage.color, Stage.kind, Stage.position)
        .order_by(Stage.position, Stage.id)
    ).all()
    return [StageCount(*row[:4], leads=row[4], value=Decimal(row[5] or 0)) for row in rows]


def recent_activity(request: Request) -> tuple[str, list[AuditEntry]]:
    """The company's latest entries for those who may read the audit log, else one's own."""
    identity = request.identity
    query = select(AuditEntry).where(AuditEntry.company_id == identity.company_id)
    if "audit.view" in identity.permissions:
        title = "Recent activity"
    else:
        title = "Your recent activity"
        query = query.where(AuditEntry.actor_id == identity.user_id)
    entries = request.dbsession.scalars(
        query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(RECENT_ACTIVITY)
    ).all()
    return title, list(entries)


def dashboard_context(request: Request) -> dict[str, Any]:
    session = request.dbsession
    user_count = session.scalar(select(func.count()).select_from(User).where(User.is_active.is_(True))) or 0
    stages = stage_counts(request) if "leads.view" in request.identity.permissions else []
    activity_title, recent = recent_activity(request)
    names = load_names(session, recent)
    widgets = sorted(
        collect(shared(request.registry, PluginManager), "dashboard_widgets", request=request),
        key=lambda widget: (widget.order, widget.title),
    )
    return {
        "user_count": user_count,
        "stages": stages,
        "lead_count": sum(stage.leads for stage in stages),
        "activity_title": activity_title,
        "recent": recent,
        "summary": lambda entry: summary(entry, names),
        "target_label": lambda entry: target_label(entry, names),
        "widgets": widgets,
        "first_steps": first_steps(request),
    }
