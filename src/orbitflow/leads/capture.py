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


# Built once: the statements of a capture run on every batch of public submissions.
STAGE_TOPS = (
    select(
        STAGES.c.id,
        STAGES.c.kind,
        select(func.min(LEADS.c.position))
        .where(LEADS.c.company_id == STAGES.c.company_id, LEADS.c.stage_id == STAGES.c.id)
        .scalar_subquery(),
    )
    .where(STAGES.c.company_id == bindparam("company_id"))
    .order_by(STAGES.c.position, STAGES.c.id)
)
STAGE_LEADS_IN_ORDER = (
    select(LEADS.c.id)
    .where(LEADS.c.company_id == bindparam("company_id"), LEADS.c.stage_id == bindparam("stage_id"))
    .order_by(LEADS.c.position, LEADS.c.id)
)
SET_POSITION = update(LEADS).where(LEADS.c.id == bindparam("lead_id")).values(position=bindparam("new_position"))
INSERT_LEADS = insert(LEADS).returning(LEADS.c.id, sort_by_parameter_order=True)
INSERT_ACTIVITY = insert(ACTIVITY)
INSERT_AUDIT = insert(AUDIT)


def first_stage(connection: Connection, company_id: int) -> tuple[int, int | None]:
    """The company's first open stage (or its first stage when none is open), and the
    smallest card position in it (None when it is empty)."""
    stages = connection.execute(STAGE_TOPS, {"company_id": company_id}).all()
    if not stages:
        raise LeadError({"stage_id": "The company has no pipeline stages."})
    stage_id, _, first = next((stage for stage in stages if stage[1] == "open"), stages[0])
    return stage_id, first


def _top_positions(connection: Connection, company_id: int, stage_id: int, first: int | None, count: int) -> list[int]:
    """``count`` positions before every card of the stage, each before the previous one."""
    if first is not None and first - count * GAP < -LIMIT:
        # The column's numbers run out: spread the stage's cards again (see positions.py).
        ids = connection.scalars(STAGE_LEADS_IN_ORDER, {"company_id": company_id, "stage_id": stage_id}).all()
        connection.execute(
            SET_POSITION, [{"lead_id": lead_id, "new_position": index * GAP} for index, lead_id in enumerate(ids)]
        )
        first = 0
    top = 0 if first is None else first - GAP
    return [top - GAP * index for index in range(count)]


def add_activities(connection: Connection, lines: Sequence[Mapping[str, Any]]) -> None:
    """Insert timeline lines (rows of :class:`LeadActivity`: company_id, lead_id,
    actor_id, kind, data, created_at) with one statement."""
    if lines:
        connection.execute(INSERT_ACTIVITY, list(lines))


def capture_leads(
    connection: Connection,
    company_id: int,
    leads: Sequence[NewLead],
    *,
    actor_name: str,
    user_agents: Sequence[str | None] | None = None,
    timeline: list[dict[str, Any]] | None = None,
) -> list[CapturedLead]:
    """Insert ``leads`` for the company, in order; raises :class:`LeadError` on bad input
    (nothing is written then). ``actor_name`` names the source in the audit log.

    The "created" timeline lines are inserted here, or, when the caller passes a
    ``timeline`` list, appended to it for the caller to insert together with lines of
    its own (:func:`add_activities`: one statement for all)."""
    if not leads:
        return []
    now = utcnow()
    stage_id, first = first_stage(connection, company_id)
    rows = [_row(company_id, stage_id, lead, now) for lead in leads]
    for row, position in zip(rows, _top_positions(connection, company_id, stage_id, first, len(rows)), strict=True):
        row["position"] = position
    ids = connection.scalars(INSERT_LEADS, rows).all()
    created = [
        {
            "company_id": company_id,
            "lead_id": lead_id,
            "actor_id": None,
            "kind": "created",
            "data": {"source": row["source"]},
            "created_at": row["created_at"],
        }
        for lead_id, row in zip(ids, rows, strict=True)
    ]
    if timeline is None:
        add_activities(connection, created)
    else:
        timeline.extend(created)
    agents = user_agents or [None] * len(rows)
    connection.execute(
        INSERT_AUDIT,
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
