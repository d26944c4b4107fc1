"""Creating many leads at once, in the caller's transaction, with a few Core statements.

This is the write path of lead capture (the quiz plugin's public submissions): however
many leads arrive together, they cost one statement per table, not one unit of work per
lead. The leads behave like those of :func:`orbitflow.leads.services.create_lead` called
one after the other: each lands at the top of the company's first open stage (so the last
of a batch is on top), with its "created" timeline line and its ``lead.create`` audit
entry.

The statements name the company explicitly, since Core statements are not scoped to a
tenant by the session; the caller passes the company it resolved from the request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from orbitflow.audit.models import AuditEntry
from orbitflow.audit.services import diff
from orbitflow.leads import normalize as norm
from orbitflow.leads.models import Lead, LeadActivity, Stage
from orbitflow.leads.positions import GAP, LIMIT
from orbitflow.leads.services import EDITABLE, TEXT_LIMITS, LeadError
from orbitflow.models.meta import utcnow

LEADS = Lead.__table__
STAGES = Stage.__table__
ACTIVITY = LeadActivity.__table__
AUDIT = AuditEntry.__table__


@dataclass(frozen=True)
class NewLead:
    """A lead to capture; the values are validated and normalised by :func:`capture_leads`."""

    name: str
    email: str | None = None
    phone: str | None = None
    source: str = "quiz"
    utm: Mapping[str, Any] = field(default_factory=dict)
    referrer: str | None = None
    consent: bool = False
    created_at: datetime | None = None


@dataclass(frozen=True)
class CapturedLead:
    id: int
    stage_id: int
    source: str
    email: str | None


def _row(company_id: int, stage_id: int, lead: NewLead, now: datetime) -> dict[str, Any]:
    fields: dict[str, str] = {}

    def clean(name: str, convert) -> Any:
        try:
            return convert()
        except norm.FieldError as error:
            fields[name] = str(error)
            return None

    row = {
        "company_id": company_id,
        "stage_id": stage_id,
        "name": clean("name", lambda: norm.clean_text(lead.name, TEXT_LIMITS["name"], required=True, label="Name")),
        "email": clean("email", lambda: norm.normalise_email(lead.email)),
        "phone": clean("phone", lambda: norm.normalise_phone(lead.phone)),
        "referrer": clean("referrer", lambda: norm.clean_text(lead.referrer, TEXT_LIMITS["referrer"])),
        "company_name": None,
        "value": None,
        "owner_id": None,
        "source": lead.source,
        "consent": bool(lead.consent),
        "consent_at": (lead.created_at or now) if lead.consent else None,
        "version": 1,
        "created_at": lead.created_at or now,
        "updated_at": lead.created_at or now,
        # Every row names every column: the rows go out as one multi-row INSERT.
        **{f"utm_{name}": None for name in norm.UTM_FIELDS},
        **(clean("utm", lambda: norm.normalise_utm(lead.utm)) or {}),
    }
    if fields:
        raise LeadError(fields)
    return row


def first_stage(connection: Connection, company_id: int) -> int:
    """The company's first open stage (or its first stage when none is open)."""
    stages = connection.execute(
        select(STAGES.c.id, STAGES.c.kind)
        .where(STAGES.c.company_id == company_id)
        .order_by(STAGES.c.position, STAGES.c.id)
    ).all()
    if not stages:
        raise LeadError({"stage_id": "The company has no pipeline stages."})
    return next((stage_id for stage_id, kind in stages if kind == "open"), stages[0][0])


def _top_positions(connection: Connection, company_id: int, stage_id: int, count: int) -> list[int]:
    """``count`` positions before every card of the stage, each before the previous one."""
    in_stage = (LEADS.c.company_id == company_id, LEADS.c.stage_id == stage_id)
    first = connection.scalar(select(func.min(LEADS.c.position)).where(*in_stage))
    if first is not None and first - count * GAP < -LIMIT:
        # The column's numbers run out: spread the stage's cards again (see positions.py).
        ids = connection.scalars(select(LEADS.c.id).where(*in_stage).order_by(LEADS.c.position, LEADS.c.id)).all()
        connection.execute(
            update(LEADS).where(LEADS.c.id == bindparam("lead_id")).values(position=bindparam("new_position")),
            [{"lead_id": lead_id, "new_position": index * GAP} for index, lead_id in enumerate(ids)],
        )
        first = 0
    top = 0 if first is None else first - GAP
    return [top - GAP * index for index in range(count)]


def capture_leads(
    connection: Connection,
    company_id: int,
    leads: Sequence[NewLead],
    *,
    actor_name: str,
    user_agents: Sequence[str | None] | None = None,
) -> list[CapturedLead]:
    """Insert ``leads`` for the company, in order; raises :class:`LeadError` on bad input
    (nothing is written then). ``actor_name`` names the source in the audit log."""
    if not leads:
        return []
    now = utcnow()
    stage_id = first_stage(connection, company_id)
    rows = [_row(company_id, stage_id, lead, now) for lead in leads]
    for row, position in zip(rows, _top_positions(connection, company_id, stage_id, len(rows)), strict=True):
        row["position"] = position
    ids = connection.scalars(insert(LEADS).returning(LEADS.c.id, sort_by_parameter_order=True), rows).all()
    connection.execute(
        insert(ACTIVITY),
        [
            {
                "company_id": company_id,
                "lead_id": lead_id,
                "actor_id": None,
                "kind": "created",
                "data": {"source": row["source"]},
                "created_at": row["created_at"],
            }
            for lead_id, row in zip(ids, rows, strict=True)
        ],
    )
    agents = user_agents or [None] * len(rows)
    connection.execute(
        insert(AUDIT),
        [
            {
                "company_id": company_id,
                "actor_id": None,
                "actor_name": actor_name[:200],
                "impersonator_id": None,
                "action": "lead.create",
                "target_type": "lead",
                "target_id": str(lead_id),
                "changes": _created_changes(row),
                "ip": None,
                "user_agent": (agent or "")[:300] or None,
                "created_at": row["created_at"],
            }
            for lead_id, row, agent in zip(ids, rows, agents, strict=True)
        ],
    )
    return [
        CapturedLead(id=lead_id, stage_id=stage_id, source=row["source"], email=row["email"])
        for lead_id, row in zip(ids, rows, strict=True)
    ]


def _created_changes(row: Mapping[str, Any]) -> dict[str, Any]:
    """The audit diff of a new lead: its non-empty editable fields, as create_lead writes it."""
    after = {name: row.get(name) for name in EDITABLE if name != "tags"}
    return diff({}, {key: value for key, value in after.items() if value not in (None, [], False)})
