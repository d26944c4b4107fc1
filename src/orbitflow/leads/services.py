"""Creating, changing, moving, merging and deleting leads.

Every function takes a SQLAlchemy session bound to the lead's company (the request's
``request.dbsession`` once the user is known; a public page binds it with
:func:`orbitflow.db.bind_company` after finding the company) and plain values. Each change
writes its timeline line (:class:`~orbitflow.leads.models.LeadActivity`) and its audit
entry in the same transaction, and flushes, so ids are set on return. Permissions are
the caller's business; the values are validated here.

Every lead is created by :func:`create_lead`, whoever asks: the lead form, the API, the
CSV import and the quiz plugin's public submissions. The functions plugins use::

    create_lead(session, *, company_id, actor_id, name, email=None, phone=None,
                company_name=None, value=None, source="manual", stage_id=None,
                owner_id=None, tags=None, utm=None, referrer=None, consent=False,
                phone_region=None, audit_info=None, created_at=None) -> Lead
        Validates and normalises (email lower-cased, phone to E.164 read in
        ``phone_region`` or the default region), puts the lead at the top of
        ``stage_id`` (default: the company's first open stage), writes the "created"
        activity and the ``lead.create`` audit entry. ``utm`` is a dict with keys
        source/medium/campaign/term/content (``utm_`` prefixes accepted). Raises
        :class:`LeadError` (``.fields``: field -> message) on bad input.

    find_lead_by_email(session, email, *, company_id=None) -> Lead | None
        The company's oldest lead with this address (compared normalised);
        ``other_lead_has_email(session, email, company_id=..., lead_id=...)`` tells
        whether a lead besides ``lead_id`` has it.

    update_lead(session, lead, changes, *, actor_id, expected_version=None,
                phone_region=None, audit_info=None) -> dict
        Applies the fields present in ``changes`` (same names as create_lead, plus
        ``stage_id``); returns the audit diff. ``expected_version`` guards against
        lost updates (:class:`StaleLead`).

    add_activity(session, lead, kind, data=None, actor_id=None) -> LeadActivity
        One timeline line. The quiz plugin writes kind ``"quiz"`` with data such as
        ``{"quiz": "Find your plan", "answers": [{"question": ..., "answer": ...}]}``;
        the lead page renders any JSON data generically.

    lead_event(lead, actor_id, ...) -> LeadEvent and announce(request, hook, event)
        Call ``announce(request, "lead_created", lead_event(lead, actor_id))`` after a
        create: ``domain_event_in_transaction`` hears of it at once, in the same
        transaction, and ``lead_created`` once the transaction commits. For a deletion,
        build the event before deleting (``event.lead`` keeps the lead's fields).

``audit_info`` (:class:`AuditInfo`) says who to name in the audit log, from which address;
:func:`audit_info_from_request` builds it for a signed-in user, and a public page passes
``AuditInfo(actor_name="quiz:<slug>", ip=request.client_ip, user_agent=request.user_agent)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from zope.sqlalchemy import mark_changed

from orbitflow.accounts.models import User
from orbitflow.audit.services import diff, record
from orbitflow.events import LeadEvent
from orbitflow.leads import normalize as norm
from orbitflow.leads.models import LEAD_SOURCES, Lead, LeadActivity, LeadNote, LeadTag, Stage
from orbitflow.leads.positions import first_stage_and_top, lock_stage, position_after, predecessor, top_position
from orbitflow.models.meta import utcnow
from orbitflow.web.inputs import parse_id

# Fields a person edits; their audit diff and the "edited" timeline line use these names.
EDITABLE = (
    "name",
    "email",
    "phone",
    "company_name",
    "value",
    "source",
    "tags",
    "owner_id",
    "stage_id",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
    "consent",
)
TEXT_LIMITS = {"name": 200, "company_name": 200, "referrer": 1000}
MAX_NOTE_LENGTH = 10_000


class LeadError(ValueError):
    """Input that cannot be stored; ``fields`` maps field names to messages."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{name}: {message}" for name, message in fields.items()))
        self.fields = fields


class StaleLead(Exception):
    """The lead changed since the caller read it (its ``version`` moved on)."""

    def __init__(self, lead_id: int, current_version: int | None = None):
        super().__init__(f"lead {lead_id} was changed by someone else")
        self.lead_id = lead_id
        self.current_version = current_version


@dataclass(frozen=True)
class AuditInfo:
    actor_name: str = ""
    ip: str | None = None
    user_agent: str | None = None
    impersonator_id: int | None = None


def audit_info_from_request(request) -> AuditInfo:
    identity = request.identity
    return AuditInfo(
        actor_name=identity.username if identity else "",
        ip=request.client_ip,
        user_agent=request.user_agent,
        impersonator_id=identity.impersonator_id if identity else None,
    )


def _audit(
    session: Session,
    action: str,
    lead_or_id: Lead | int,
    *,
    company_id: int,
    actor_id: int | None,
    audit_info: AuditInfo | None,
    changes: dict[str, Any] | None = None,
    target_type: str = "lead",
) -> None:
    info = audit_info or AuditInfo()
    record(
        session,
        action,
        company_id=company_id,
        actor_id=actor_id,
        actor_name=info.actor_name,
        impersonator_id=info.impersonator_id,
        target_type=target_type,
        target_id=lead_or_id if isinstance(lead_or_id, int) else lead_or_id.id,
        changes=changes,
        ip=info.ip,
        user_agent=info.user_agent,
    )


def snapshot(lead: Lead) -> dict[str, Any]:
    """The lead's editable fields, for audit diffs."""
    values = {name: getattr(lead, name) for name in EDITABLE if name != "tags"}
    values["tags"] = list(lead.tags)
    values["value"] = None if lead.value is None else str(lead.value)
    return values


def _flush(session: Session, lead: Lead) -> None:
    lead_id = lead.id
    try:
        session.flush()
    except StaleDataError:
        raise StaleLead(lead_id) from None


# -- validation -------------------------------------------------------------------------


def default_stage(session: Session, company_id: int) -> Stage | None:
    stages = session.scalars(
        select(Stage).where(Stage.company_id == company_id).order_by(Stage.position, Stage.id)
    ).all()
    for stage in stages:
        if stage.kind == "open":
            return stage
    return stages[0] if stages else None


def _stage(session: Session, company_id: int, stage_id: Any) -> Stage:
    stage_key = parse_id(stage_id)
    if stage_key is None:
        raise norm.FieldError("Choose a stage.")
    stage = session.get(Stage, stage_key)
    if stage is None or stage.company_id != company_id:
        raise norm.FieldError("Choose one of the company's stages.")
    return stage


def _owner(session: Session, company_id: int, owner_id: Any) -> int | None:
    if owner_id in (None, "", 0, "0"):
        return None
    user_key = parse_id(owner_id)
    if user_key is None:
        raise norm.FieldError("Choose a user.")
    user = session.get(User, user_key)
    if user is None or user.company_id != company_id or user.role == "SUPER_ADMIN":
        raise norm.FieldError("Choose one of the company's users.")
    if not user.is_active:
        raise norm.FieldError(f"{user.display_name} is deactivated; choose an active user.")
    return user.id


def clean_fields(
    session: Session, company_id: int, data: Mapping[str, Any], *, phone_region: str | None = None
) -> dict[str, Any]:
    """Validate and normalise the fields present in ``data``.

    Returns column values (``utm`` expands into ``utm_*``); raises :class:`LeadError`
    listing every bad field at once.
    """
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def attempt(name: str, convert) -> None:
        try:
            clean[name] = convert()
        except norm.FieldError as error:
            errors[name] = str(error)

    for name, limit in TEXT_LIMITS.items():
        if name in data:
            attempt(
                name,
                lambda name=name, limit=limit: norm.clean_text(
                    data[name], limit, required=name == "name", label="Name"
                ),
            )
    if "email" in data:
        attempt("email", lambda: norm.normalise_email(data["email"]))
    if "phone" in data:
        attempt("phone", lambda: norm.normalise_phone(data["phone"], phone_region))
    if "value" in data:
        attempt("value", lambda: norm.normalise_value(data["value"]))
    if "source" in data:

        def source() -> str:
            value = str(data["source"] or "").strip().lower()
            if value not in LEAD_SOURCES:
                raise norm.FieldError(f"Choose one of {', '.join(LEAD_SOURCES)}.")
            return value

        attempt("source", source)
    if "tags" in data:
        attempt("tags", lambda: norm.normalise_tags(data["tags"]))
    if "consent" in data:
        attempt("consent", lambda: norm.normalise_bool(data["consent"]))
    if "stage_id" in data:
        attempt("stage_id", lambda: _stage(session, company_id, data["stage_id"]).id)
    if "owner_id" in data:
        attempt("owner_id", lambda: _owner(session, company_id, data["owner_id"]))
    utm: dict[str, Any] = {}
    if "utm" in data:
        try:
            utm.update(norm.normalise_utm(data["utm"]))
        except norm.FieldError as error:
            errors[error.field or "utm"] = str(error)
    for name in norm.UTM_FIELDS:
        key = f"utm_{name}"
        if key in data:
            try:
                utm[key] = norm.clean_text(data[key], 200)
            except norm.FieldError as error:
                errors[key] = str(error)
    clean.update(utm)
    if errors:
        raise LeadError(errors)
    return clean


# -- reading ----------------------------------------------------------------------------


def _by_email(what, email: str, company_id: int | None):
    try:
        normalised = norm.normalise_email(email)
    except norm.FieldError:
        return None
    if normalised is None:
        return None
    query = select(what).where(Lead.email == normalised).order_by(Lead.created_at, Lead.id).limit(1)
    if company_id is not None:
        query = query.where(Lead.company_id == company_id)
    return query


def find_lead_by_email(session: Session, email: str, *, company_id: int | None = None) -> Lead | None:
    """The company's oldest lead with this address, or None (also for an invalid address)."""
    query = _by_email(Lead, email, company_id)
    return None if query is None else session.scalars(query).first()


def other_lead_has_email(session: Session, email: str, *, company_id: int, lead_id: int) -> bool:
    """Whether the company has a lead with this address besides ``lead_id``."""
    query = _by_email(Lead.id, email, company_id)
    return query is not None and session.scalars(query.where(Lead.id != lead_id)).first() is not None


def duplicates_of(session: Session, lead: Lead) -> list[Lead]:
    """Other leads of the company with the same email address."""
    if not lead.email:
        return []
    return list(
        session.scalars(
            select(Lead)
            .where(Lead.company_id == lead.company_id, Lead.email == lead.email, Lead.id != lead.id)
            .order_by(Lead.created_at, Lead.id)
        )
    )


def stage_names(session: Session, *stage_ids: int | None) -> dict[int, str]:
    ids = {stage_id for stage_id in stage_ids if stage_id is not None}
    if not ids:
        return {}
    return {row[0]: row[1] for row in session.execute(select(Stage.id, Stage.name).where(Stage.id.in_(ids)))}


def user_names(session: Session, *user_ids: int | None) -> dict[int, str]:
    ids = {user_id for user_id in user_ids if user_id is not None}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.name, User.username).where(User.id.in_(ids)))
    return {user_id: name or username for user_id, name, username in rows}


# -- changing ---------------------------------------------------------------------------


def add_activity(
    session: Session, lead: Lead, kind: str, data: dict[str, Any] | None = None, actor_id: int | None = None
) -> LeadActivity:
    """Add one line to the lead's timeline."""
    activity = LeadActivity(company_id=lead.company_id, lead_id=lead.id, actor_id=actor_id, kind=kind, data=data)
    session.add(activity)
    return activity


def _set_tags(lead: Lead, tags: list[str]) -> None:
    # Keep the rows of tags that stay: deleting and re-adding one tag in the same flush
    # would trip the (lead_id, tag) unique constraint.
    keep = [row for row in lead.tag_rows if row.tag in tags]
    have = {row.tag for row in keep}
    keep.extend(LeadTag(company_id=lead.company_id, tag=tag) for tag in tags if tag not in have)
    order = {tag: index for index, tag in enumerate(sorted(tags))}
    lead.tag_rows = sorted(keep, key=lambda row: order[row.tag])


def create_lead(
    session: Session,
    *,
    company_id: int,
    actor_id: int | None,
    name: str,
    email: str | None = None,
    phone: str | None = None,
    company_name: str | None = None,
    value: Any = None,
    source: str = "manual",
    stage_id: int | None = None,
    owner_id: int | None = None,
    tags: list[str] | str | None = None,
    utm: Mapping[str, Any] | None = None,
    referrer: str | None = None,
    consent: bool = False,
    phone_region: str | None = None,
    position: int | None = None,
    audit_info: AuditInfo | None = None,
    created_at: datetime | None = None,
) -> Lead:
    """Create a lead at the top of its stage; see the module docstring."""
    data: dict[str, Any] = {
        "name": name,
        "email": email,
        "phone": phone,
        "company_name": company_name,
        "value": value,
        "source": source,
        "tags": tags,
        "owner_id": owner_id,
        "referrer": referrer,
        "consent": consent,
        "utm": utm or {},
    }
    if stage_id is not None:
        data["stage_id"] = stage_id
    clean = clean_fields(session, company_id, data, phone_region=phone_region)
    if "stage_id" not in clean:
        if position is None:
            # The first stage and its top position in one statement.
            first = first_stage_and_top(session, company_id)
            if first is not None:
                clean["stage_id"], position = first
        else:
            stage = default_stage(session, company_id)
            if stage is not None:
                clean["stage_id"] = stage.id
        if "stage_id" not in clean:
            raise LeadError({"stage_id": "The company has no pipeline stages."})
    tag_list = clean.pop("tags")
    now = created_at or utcnow()
    lead = Lead(company_id=company_id, created_at=now, updated_at=now, **clean)
    lead.consent_at = now if lead.consent else None
    lead.position = top_position(session, lead.stage_id) if position is None else position
    _set_tags(lead, tag_list)
    session.add(lead)
    session.flush()
    add_activity(session, lead, "created", {"source": lead.source}, actor_id).created_at = now
    _audit(
        session,
        "lead.create",
        lead,
        company_id=company_id,
        actor_id=actor_id,
        audit_info=audit_info,
        changes=diff({}, {key: value for key, value in snapshot(lead).items() if value not in (None, [], False)}),
    )
    return lead


def update_lead(
    session: Session,
    lead: Lead,
    changes: Mapping[str, Any],
    *,
    actor_id: int | None,
    expected_version: int | None = None,
    phone_region: str | None = None,
    audit_info: AuditInfo | None = None,
) -> dict[str, Any]:
    """Apply the fields in ``changes``; returns the audit diff (empty when nothing changed).

    A new ``stage_id`` puts the lead at the top of that stage ("moved" on the timeline),
    a new ``owner_id`` writes "assigned", other fields "edited".
    """
    if expected_version is not None and expected_version != lead.version:
        raise StaleLead(lead.id, lead.version)
    if "owner_id" in changes and str(changes["owner_id"] or "") == str(lead.owner_id or ""):
        # Keeping the owner is always fine, even one who has since been deactivated.
        changes = {key: value for key, value in changes.items() if key != "owner_id"}
    clean = clean_fields(session, lead.company_id, changes, phone_region=phone_region)
    before = snapshot(lead)
    previous_stage = lead.stage_id
    previous_owner = lead.owner_id
    if "tags" in clean:
        _set_tags(lead, clean.pop("tags"))
    new_stage = clean.pop("stage_id", lead.stage_id)
    if new_stage != lead.stage_id:
        lock_stage(session, new_stage)
        lead.position = top_position(session, new_stage, exclude_id=lead.id)
        lead.stage_id = new_stage
    for key, value in clean.items():
        setattr(lead, key, value)
    if "consent" in clean and lead.consent != before["consent"]:
        lead.consent_at = utcnow() if lead.consent else None
    after = snapshot(lead)
    changed = diff(before, after)
    if not changed:
        return {}
    lead.updated_at = utcnow()  # also bumps the version when only tags changed
    _flush(session, lead)
    if "stage_id" in changed:
        names = stage_names(session, previous_stage, lead.stage_id)
        add_activity(
            session,
            lead,
            "moved",
            {
                "from": names.get(previous_stage),
                "to": names.get(lead.stage_id),
                "from_id": previous_stage,
                "to_id": lead.stage_id,
            },
            actor_id,
        )
    if "owner_id" in changed:
        names = user_names(session, previous_owner, lead.owner_id)
        add_activity(
            session,
            lead,
            "assigned",
            {
                "from": names.get(previous_owner),
                "to": names.get(lead.owner_id),
                "from_id": previous_owner,
                "to_id": lead.owner_id,
            },
            actor_id,
        )
    edited = {key: value for key, value in changed.items() if key not in ("stage_id", "owner_id")}
    if edited:
        add_activity(session, lead, "edited", {"changes": edited}, actor_id)
    _audit(
        session,
        "lead.update",
        lead,
        company_id=lead.company_id,
        actor_id=actor_id,
        audit_info=audit_info,
        changes=changed,
    )
    return changed


@dataclass(frozen=True)
class MoveResult:
    lead: Lead
    previous_stage_id: int
    previous_position: int
    changed: bool

    @property
    def stage_changed(self) -> bool:
        return self.previous_stage_id != self.lead.stage_id


def move_lead(
    session: Session,
    lead: Lead,
    *,
    stage_id: int,
    actor_id: int | None,
    expected_version: int | None = None,
    position: int | None = None,
    after_id: int | None = None,
    before_id: int | None = None,
    visible=None,
    audit_info: AuditInfo | None = None,
) -> MoveResult:
    """Put ``lead`` into ``stage_id`` at a place given by its neighbours or an index.

    ``after_id``/``before_id`` name the card it was dropped after/before (the board sends
    them); otherwise ``position`` is the 0-based index among the stage's cards that
    ``visible`` (a SQL criterion, e.g. an agent's own and unassigned leads) lets the
    caller see; with neither it goes to the top. The lead's row and the target stage's
    row are locked, so concurrent moves of one card give one winner and
    :class:`StaleLead` for the others, and moves into one stage never interleave.
    """
    locked = session.scalars(
        select(Lead).where(Lead.id == lead.id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if locked is None:
        raise StaleLead(lead.id)
    lead = locked
    if expected_version is not None and expected_version != lead.version:
        raise StaleLead(lead.id, lead.version)
    stage_key = parse_id(stage_id)
    stage = session.get(Stage, stage_key) if stage_key is not None else None
    if stage is None or stage.company_id != lead.company_id:
        raise LeadError({"stage_id": "Choose one of the company's stages."})
    lock_stage(session, stage.id)
    previous_stage, previous_position = lead.stage_id, lead.position
    new_position = _placement(session, lead, stage.id, position, after_id, before_id, visible)
    if stage.id == previous_stage and new_position == previous_position:
        return MoveResult(lead, previous_stage, previous_position, False)
    lead.stage_id = stage.id
    lead.position = new_position
    lead.updated_at = utcnow()
    _flush(session, lead)
    changes = {
        "stage_id": {"from": previous_stage, "to": stage.id},
        "position": {"from": previous_position, "to": new_position},
    }
    if stage.id != previous_stage:
        names = stage_names(session, previous_stage, stage.id)
        add_activity(
            session,
            lead,
            "moved",
            {
                "from": names.get(previous_stage),
                "to": names.get(stage.id),
                "from_id": previous_stage,
                "to_id": stage.id,
            },
            actor_id,
        )
    _audit(
        session,
        "lead.move",
        lead,
        company_id=lead.company_id,
        actor_id=actor_id,
        audit_info=audit_info,
        changes=changes,
    )
    return MoveResult(lead, previous_stage, previous_position, True)


def _neighbour(session: Session, lead_id: int | None, stage_id: int, moving_id: int, visible) -> Lead | None:
    if lead_id is None or lead_id == moving_id:
        return None
    query = select(Lead).where(Lead.id == lead_id, Lead.stage_id == stage_id)
    if visible is not None:
        query = query.where(visible)
    return session.scalars(query).first()


def _placement(
    session: Session,
    lead: Lead,
    stage_id: int,
    index: int | None,
    after_id: int | None,
    before_id: int | None,
    visible,
) -> int:
    after = _neighbour(session, after_id, stage_id, lead.id, visible)
    if after is not None:
        return position_after(session, stage_id, (after.position, after.id), lead.id)
    before = _neighbour(session, before_id, stage_id, lead.id, visible)
    if before is None and index is not None:
        index = max(0, int(index))
        query = select(Lead).where(Lead.stage_id == stage_id, Lead.id != lead.id)
        if visible is not None:
            query = query.where(visible)
        query = query.order_by(Lead.position, Lead.id)
        if index > 0:
            after = session.scalars(query.offset(index - 1).limit(1)).first()
            if after is None:  # past the end: after the last card
                after = session.scalars(
                    query.order_by(None).order_by(Lead.position.desc(), Lead.id.desc()).limit(1)
                ).first()
            if after is not None:
                return position_after(session, stage_id, (after.position, after.id), lead.id)
        before = session.scalars(query.limit(1)).first()
    if before is not None:
        anchor = predecessor(session, stage_id, (before.position, before.id), lead.id)
        return position_after(session, stage_id, anchor, lead.id)
    if stage_id == lead.stage_id and index is None:
        return lead.position
    return top_position(session, stage_id, lead.id)


def add_note(
    session: Session, lead: Lead, body: str, *, actor_id: int | None, audit_info: AuditInfo | None = None
) -> LeadNote:
    text = (body or "").strip()
    if not text:
        raise LeadError({"body": "Write the note first."})
    if len(text) > MAX_NOTE_LENGTH:
        raise LeadError({"body": f"Keep notes under {MAX_NOTE_LENGTH} characters."})
    note = LeadNote(company_id=lead.company_id, lead_id=lead.id, author_id=actor_id, body=text)
    session.add(note)
    session.flush()
    add_activity(session, lead, "note", {"note_id": note.id, "excerpt": text[:200]}, actor_id)
    _audit(
        session,
        "lead.note",
        lead,
        company_id=lead.company_id,
        actor_id=actor_id,
        audit_info=audit_info,
        changes={"note_id": note.id},
    )
    return note


def delete_lead(session: Session, lead: Lead, *, actor_id: int | None, audit_info: AuditInfo | None = None) -> None:
    before = snapshot(lead)
    lead_id, company_id = lead.id, lead.company_id
    session.delete(lead)
    _flush(session, lead)
    _audit(
        session,
        "lead.delete",
        lead_id,
        company_id=company_id,
        actor_id=actor_id,
        audit_info=audit_info,
        changes=diff(before, {}),
    )


MERGE_FILL = (
    "email",
    "phone",
    "company_name",
    "value",
    "owner_id",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
)


def merge_leads(
    session: Session, keep: Lead, other: Lead, *, actor_id: int | None, audit_info: AuditInfo | None = None
) -> dict[str, Any]:
    """Fold ``other`` into ``keep``: empty fields filled, tags joined, notes and timeline
    moved over; ``other`` is deleted. Returns the diff of ``keep``."""
    if keep.id == other.id or keep.company_id != other.company_id:
        raise LeadError({"other_id": "Choose another lead of the company."})
    before = snapshot(keep)
    for name in MERGE_FILL:
        if getattr(keep, name) in (None, "") and getattr(other, name) not in (None, ""):
            setattr(keep, name, getattr(other, name))
    if other.consent and not keep.consent:
        keep.consent, keep.consent_at = True, other.consent_at
    _set_tags(keep, sorted(set(keep.tags) | set(other.tags)))
    keep.updated_at = utcnow()
    other_id, other_name = other.id, other.name
    for model in (LeadNote, LeadActivity):
        session.execute(
            update(model)
            .where(model.lead_id == other_id)
            .values(lead_id=keep.id)
            .execution_options(synchronize_session=False)
        )
    mark_changed(session)
    other_before = snapshot(other)
    session.delete(other)
    _flush(session, keep)
    changes = diff(before, snapshot(keep))
    add_activity(session, keep, "merged", {"merged_id": other_id, "merged_name": other_name}, actor_id)
    _audit(
        session,
        "lead.merge",
        keep,
        company_id=keep.company_id,
        actor_id=actor_id,
        audit_info=audit_info,
        changes={**changes, "merged_id": {"from": other_id, "to": keep.id}},
    )
    _audit(
        session,
        "lead.delete",
        other_id,
        company_id=keep.company_id,
        actor_id=actor_id,
        audit_info=audit_info,
        changes={**diff(other_before, {}), "merged_into": {"from": None, "to": keep.id}},
    )
    return changes


# -- events -----------------------------------------------------------------------------


def lead_event(
    lead: Lead,
    actor_id: int | None,
    *,
    previous_stage_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> LeadEvent:
    """The event of a change to ``lead``; for a deletion, build it before deleting."""
    from orbitflow.leads.representation import lead_json

    return LeadEvent(
        company_id=lead.company_id,
        lead_id=lead.id,
        actor_id=actor_id,
        stage_id=lead.stage_id,
        previous_stage_id=previous_stage_id,
        source=lead.source,
        changes=changes or {},
        lead=lead_json(lead),
    )


def announce(request, hook_name: str, event: LeadEvent) -> None:
    """Announce ``lead_created``/``lead_updated``/``lead_moved``/``lead_deleted``:
    ``domain_event_in_transaction`` runs now, in the request's transaction, and the
    named hook once it commits."""
    from orbitflow.plugins import notify_after_commit

    notify_after_commit(request, hook_name, event)
