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
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    String,
    bindparam,
    func,
    insert,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)

from orbitflow.audit.models import AuditEntry
from orbitflow.audit.services import diff
from orbitflow.leads import normalize as norm
from orbitflow.leads.models import Lead, LeadActivity, Stage
from orbitflow.leads.positions import GAP, LIMIT, SET_POSITION, spread
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
    # False when the lead already existed (see ``reuse_by_email``).
    created: bool = True


def _row(company_id: int, lead: NewLead, now: datetime) -> dict[str, Any]:
    fields: dict[str, str] = {}

    def clean(name: str, convert) -> Any:
        try:
            return convert()
        except norm.FieldError as error:
            fields[name] = str(error)
            return None

    row = {
        "company_id": company_id,
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
# What a capture needs to know first, in one round trip: the company's stages with the
# top card position of each, and (with reuse_by_email) its leads with the given addresses.
_STAGES_PART = select(
    literal("stage").label("part"),
    STAGES.c.id,
    STAGES.c.kind.label("text"),
    select(func.min(LEADS.c.position))
    .where(LEADS.c.company_id == STAGES.c.company_id, LEADS.c.stage_id == STAGES.c.id)
    .scalar_subquery()
    .label("number"),
    type_coerce(null(), String).label("source"),
    STAGES.c.position.label("stage_order"),
    type_coerce(null(), DateTime).label("created_at"),
).where(STAGES.c.company_id == bindparam("company_id"))
STAGES_AND_LEADS = union_all(
    _STAGES_PART,
    select(
        literal("lead"),
        LEADS.c.id,
        LEADS.c.email,
        LEADS.c.stage_id,
        LEADS.c.source,
        null(),
        LEADS.c.created_at,
    ).where(LEADS.c.company_id == bindparam("company_id"), LEADS.c.email.in_(bindparam("emails", expanding=True))),
)
STAGE_LEADS_IN_ORDER = (
    select(LEADS.c.id)
    .where(LEADS.c.company_id == bindparam("company_id"), LEADS.c.stage_id == bindparam("stage_id"))
    .order_by(LEADS.c.position, LEADS.c.id)
)
INSERT_LEADS = insert(LEADS).returning(LEADS.c.id, sort_by_parameter_order=True)
INSERT_ACTIVITY = insert(ACTIVITY)
INSERT_AUDIT = insert(AUDIT)


def _first_stage_and_leads(
    connection: Connection, company_id: int, emails: Sequence[str]
) -> tuple[tuple[int, int | None], dict[str, CapturedLead]]:
    """The company's first open stage (or its first stage when none is open) with the
    smallest card position in it (None when empty); and its oldest lead per address."""
    stages, leads = [], []
    for part, row_id, text, number, source, stage_order, created_at in connection.execute(
        STAGES_AND_LEADS, {"company_id": company_id, "emails": list(emails)}
    ):
        if part == "stage":
            stages.append((stage_order, row_id, text, number))
        else:
            leads.append((created_at, row_id, text, number, source))
    if not stages:
        raise LeadError({"stage_id": "The company has no pipeline stages."})
    stages.sort()
    _, stage_id, _, first = next((stage for stage in stages if stage[2] == "open"), stages[0])
    existing: dict[str, CapturedLead] = {}
    for _, lead_id, email, lead_stage, source in sorted(leads):
        existing.setdefault(email, CapturedLead(lead_id, lead_stage, source, email, created=False))
    return (stage_id, first), existing


def _top_positions(connection: Connection, company_id: int, stage_id: int, first: int | None, count: int) -> list[int]:
    """``count`` positions before every card of the stage, each before the previous one."""
    if first is not None and first - count * GAP < -LIMIT:
        # The column's numbers run out: spread the stage's cards again (see positions.py).
        ids = connection.scalars(STAGE_LEADS_IN_ORDER, {"company_id": company_id, "stage_id": stage_id}).all()
        connection.execute(SET_POSITION, spread(ids))
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
    reuse_by_email: bool = False,
) -> list[CapturedLead]:
    """Insert ``leads`` for the company, in order; one :class:`CapturedLead` per lead.
    Raises :class:`LeadError` on bad input (nothing is written then). ``actor_name``
    names the source in the audit log.

    With ``reuse_by_email``, a lead whose address the company already has is not created:
    its entry is the company's oldest lead with that address (``created`` False), and of
    several new leads with one address only the first is created, the others reuse it.
    Callers that may run concurrently serialise same-address captures themselves (the
    quiz plugin locks a key per address first).

    The "created" timeline lines are inserted here, or, when the caller passes a
    ``timeline`` list, appended to it for the caller to insert together with lines of
    its own (:func:`add_activities`: one statement for all)."""
    if not leads:
        return []
    now = utcnow()
    rows = [_row(company_id, lead, now) for lead in leads]
    emails = sorted({row["email"] for row in rows if row["email"]}) if reuse_by_email else []
    (stage_id, first), existing = _first_stage_and_leads(connection, company_id, emails)
    captured: list[CapturedLead | None] = []
    new_rows: list[tuple[int, dict[str, Any]]] = []
    claimed: dict[str, int] = {}
    for index, row in enumerate(rows):
        email = row["email"] if reuse_by_email else None
        if email in existing:
            captured.append(existing[email])
        elif email in claimed:
            captured.append(None)  # the lead an earlier row of this batch creates
        else:
            if email is not None:
                claimed[email] = index
            captured.append(None)
            new_rows.append((index, row))
    if new_rows:
        for (_, row), position in zip(
            new_rows, _top_positions(connection, company_id, stage_id, first, len(new_rows)), strict=True
        ):
            row["stage_id"] = stage_id
            row["position"] = position
        ids = connection.scalars(INSERT_LEADS, [row for _, row in new_rows]).all()
        for (index, row), lead_id in zip(new_rows, ids, strict=True):
            captured[index] = CapturedLead(lead_id, stage_id, row["source"], row["email"])
        _record_created(connection, company_id, new_rows, ids, actor_name, user_agents, timeline)
    for index, row in enumerate(rows):
        if captured[index] is None:
            first_lead = captured[claimed[row["email"]]]
            assert first_lead is not None
            captured[index] = replace(first_lead, created=False)
    return [lead for lead in captured if lead is not None]


def _record_created(
    connection: Connection,
    company_id: int,
    new_rows: Sequence[tuple[int, dict[str, Any]]],
    ids: Sequence[int],
    actor_name: str,
    user_agents: Sequence[str | None] | None,
    timeline: list[dict[str, Any]] | None,
) -> None:
    """The "created" timeline lines and the ``lead.create`` audit entries of new leads."""
    created = [
        {
            "company_id": company_id,
            "lead_id": lead_id,
            "actor_id": None,
            "kind": "created",
            "data": {"source": row["source"]},
            "created_at": row["created_at"],
        }
        for (_, row), lead_id in zip(new_rows, ids, strict=True)
    ]
    if timeline is None:
        add_activities(connection, created)
    else:
        timeline.extend(created)
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
                "user_agent": ((user_agents[index] if user_agents else None) or "")[:300] or None,
                "created_at": row["created_at"],
            }
            for (index, row), lead_id in zip(new_rows, ids, strict=True)
        ],
    )


def _created_changes(row: Mapping[str, Any]) -> dict[str, Any]:
    """The audit diff of a new lead: its non-empty editable fields, as create_lead writes it."""
    after = {name: row.get(name) for name in EDITABLE if name != "tags"}
    return diff({}, {key: value for key, value in after.items() if value not in (None, [], False)})
