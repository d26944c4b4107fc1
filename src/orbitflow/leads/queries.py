"""Reading leads: who may see which, the filters of the board and the list, and the
board's columns in a fixed number of statements whatever the number of leads."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true, union_all
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User
from orbitflow.leads.models import LEAD_SOURCES, Lead, LeadTag, Stage
from orbitflow.plugins import LeadListFilter, lead_list_filters
from orbitflow.web.inputs import MAX_ID, MAX_INT32, NumberError, bounded_int, parse_id

BOARD_PAGE = 20
SORTS = {
    "created": (Lead.created_at,),
    "updated": (Lead.updated_at,),
    "name": (Lead.name,),
    "value": (Lead.value,),
    "company": (Lead.company_name,),
}
DEFAULT_SORT = "-created"


@dataclass(frozen=True)
class Viewer:
    """Whose eyes: agents see the leads assigned to them and unassigned ones."""

    company_id: int
    user_id: int | None
    view_all: bool

    @classmethod
    def from_request(cls, request) -> Viewer:
        identity = request.identity
        return cls(identity.company_id, identity.user_id or None, request.has_permission("leads.view_all"))

    def clause(self) -> ColumnElement[bool]:
        if self.view_all:
            return true()
        if self.user_id is None:
            return Lead.owner_id.is_(None)
        return or_(Lead.owner_id == self.user_id, Lead.owner_id.is_(None))

    def can_see(self, lead: Lead) -> bool:
        return self.view_all or lead.owner_id is None or lead.owner_id == self.user_id


UTM_FILTERS = ("utm_source", "utm_medium", "utm_campaign", "utm_content")
TIME_FILTERS = ("created_from", "created_to")
# Every filter the core reads; a plugin's filters (``lead_list_filters``) come on top.
CORE_FILTERS = ("q", "stage_id", "source", "tag", *UTM_FILTERS, *TIME_FILTERS)
NOT_A_FILTER = "Not a filter of the lead list (a plugin's filter works only while its plugin is enabled)."


@dataclass(frozen=True)
class LeadFilters:
    """Filters shared by the board, the list, the CSV export and the API."""

    q: str = ""
    stage_id: int | None = None
    # "" anyone, "none" unassigned, "me", or a user id as text (NO_ROW's when it names no row).
    owner: str = ""
    source: str = ""
    tag: str = ""
    # UTM fields as stored; "none" for leads without one (the analytics links).
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_content: str = ""
    # A creation window (UTC, end excluded): what the analytics dashboard's numbers link to.
    created_from: datetime | None = None
    created_to: datetime | None = None
    # The enabled plugins' filters in use: parameter -> parsed value, and their definitions.
    extra: dict[str, Any] = field(default_factory=dict)
    offered: tuple[LeadListFilter, ...] = field(default=(), compare=False)
    errors: dict[str, str] = field(default_factory=dict, compare=False)
    # Parameters that are neither a filter nor one of the view's own (sort, page...): the API
    # refuses them, the pages opened from links ignore them.
    unknown: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_request(cls, request, owner_key: str = "owner", also: Collection[str] = ()) -> LeadFilters:
        """The request's filters, with the enabled plugins' (``also``: the view's other
        parameters, which are not refused as unknown)."""
        offered = lead_list_filters(request.registry)
        return cls.from_params(request.GET, owner_key, offered, also)

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, str],
        owner_key: str = "owner",
        offered: Sequence[LeadListFilter] = (),
        also: Collection[str] = (),
    ) -> LeadFilters:
        """A parameter that is no filter (the core's or one ``offered``) and not in ``also``
        is refused: it is in ``errors`` and ``unknown``."""
        errors: dict[str, str] = {}
        stage_id = _id_or_none(params.get("stage_id"), "stage_id", errors)
        owner = (params.get(owner_key) or "").strip().lower()
        if owner not in ("", "none", "me"):
            owner_id = parse_id(owner)
            if owner_id is None:
                errors[owner_key] = "Choose a user, me or none."
                owner = ""
            else:
                owner = str(owner_id)
        source = (params.get("source") or "").strip().lower()
        if source and source not in LEAD_SOURCES:
            errors["source"] = f"Choose one of {', '.join(LEAD_SOURCES)}."
            source = ""
        return cls(
            q=(params.get("q") or "").strip()[:200],
            stage_id=stage_id,
            owner=owner,
            source=source,
            tag=" ".join((params.get("tag") or "").split()).lower()[:50],
            **{key: (params.get(key) or "").strip()[:200] for key in UTM_FILTERS},
            **{key: _utc_or_none(params.get(key), key, errors) for key in TIME_FILTERS},
            extra=_plugin_values(params, offered, errors),
            offered=tuple(offered),
            errors=errors,
            unknown=_unknown(params, (owner_key, *CORE_FILTERS), offered, also, errors),
        )

    def without_stage(self) -> LeadFilters:
        return replace(self, stage_id=None)

    @property
    def active(self) -> bool:
        return bool(
            self.q
            or self.owner
            or self.source
            or self.tag
            or self.stage_id
            or any(getattr(self, key) for key in UTM_FILTERS)
            or any(getattr(self, key) is not None for key in TIME_FILTERS)
            or self.extra
        )

    @property
    def hidden(self) -> dict[str, str]:
        """The filters the form has no field for (kept as hidden inputs)."""
        keys = (*UTM_FILTERS, *TIME_FILTERS, *self.extra)
        return {key: value for key, value in self.as_params().items() if key in keys}

    def as_params(self) -> dict[str, str]:
        params = {
            "q": self.q,
            "owner": self.owner,
            "source": self.source,
            "tag": self.tag,
            **{key: getattr(self, key) for key in UTM_FILTERS},
        }
        if self.stage_id is not None:
            params["stage_id"] = str(self.stage_id)
        for key in TIME_FILTERS:
            moment = getattr(self, key)
            if moment is not None:
                params[key] = format_utc(moment)
        for offer in self.offered:
            for key in offer.params:
                if key in self.extra:
                    params[key] = offer.format(self.extra[key])
        return {key: value for key, value in params.items() if value}


def _plugin_values(params: Mapping[str, str], offered: Sequence[LeadListFilter], errors: dict[str, str]) -> dict:
    values: dict[str, Any] = {}
    for offer in offered:
        for key in offer.params:
            raw = (params.get(key) or "").strip()
            if not raw:
                continue
            try:
                values[key] = offer.parse(raw)
            except ValueError as error:
                errors[key] = str(error)
    return values


def _unknown(
    params: Mapping[str, str],
    core: Collection[str],
    offered: Sequence[LeadListFilter],
    also: Collection[str],
    errors: dict[str, str],
) -> tuple[str, ...]:
    known = {*core, *also, *(key for offer in offered for key in offer.params)}
    unknown = tuple(dict.fromkeys(key for key in params if key not in known))
    for key in unknown:
        errors[key] = NOT_A_FILTER
    return unknown


def _id_or_none(raw: str | None, name: str, errors: dict[str, str]) -> int | None:
    """A filter's row id; one beyond the range stays, as ``NO_ROW``, and matches nothing."""
    value = parse_id(raw)
    if value is None and raw not in (None, ""):
        errors[name] = "Must be a whole number."
    return value


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time (``Z`` or an offset; a date alone is midnight UTC) as naive UTC;
    ``ValueError`` with a message for anything else (plugins' time filters use it too)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("Use an ISO 8601 time such as 2026-11-01T00:00:00Z.") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def format_utc(moment: datetime) -> str:
    return moment.isoformat() + "Z"


def parse_filter_id(text: str) -> int:
    """A filter's row id (one beyond the range is ``NO_ROW`` and matches nothing)."""
    value = parse_id(text)
    if value is None:
        raise ValueError("Must be a whole number.")
    return value


def _utc_or_none(raw: str | None, name: str, errors: dict[str, str]) -> datetime | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return parse_utc(text)
    except ValueError as error:
        errors[name] = str(error)
        return None


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_clause(q: str) -> ColumnElement[bool]:
    pattern = like_pattern(q)
    clauses = [
        Lead.name.ilike(pattern, escape="\\"),
        Lead.email.ilike(pattern, escape="\\"),
        Lead.company_name.ilike(pattern, escape="\\"),
        Lead.phone.like(pattern, escape="\\"),
    ]
    # Phones are stored as E.164: "(415) 555-01" should find +1415555012x.
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 3 and digits != q:
        clauses.append(Lead.phone.like(f"%{digits}%"))
    return or_(*clauses)


def filter_criteria(viewer: Viewer, filters: LeadFilters) -> list[ColumnElement[bool]]:
    criteria: list[ColumnElement[bool]] = [Lead.company_id == viewer.company_id]
    if not viewer.view_all:
        criteria.append(viewer.clause())
    if filters.stage_id is not None:
        criteria.append(Lead.stage_id == filters.stage_id)
    if filters.owner == "none":
        criteria.append(Lead.owner_id.is_(None))
    elif filters.owner == "me":
        criteria.append(Lead.owner_id == viewer.user_id)
    elif filters.owner:
        criteria.append(Lead.owner_id == int(filters.owner))
    if filters.source:
        criteria.append(Lead.source == filters.source)
    if filters.tag:
        criteria.append(
            Lead.id.in_(
                select(LeadTag.lead_id).where(LeadTag.company_id == viewer.company_id, LeadTag.tag == filters.tag)
            )
        )
    for key in UTM_FILTERS:
        utm, wanted = getattr(Lead, key), getattr(filters, key)
        if wanted == "none":
            criteria.append(or_(utm.is_(None), utm == ""))
        elif wanted:
            criteria.append(utm == wanted)
    if filters.created_from is not None:
        criteria.append(Lead.created_at >= filters.created_from)
    if filters.created_to is not None:
        criteria.append(Lead.created_at < filters.created_to)
    for offer in filters.offered:
        given = {key: filters.extra[key] for key in offer.params if key in filters.extra}
        if given:
            criteria.append(offer.criterion(viewer.company_id, given))
    if filters.q:
        criteria.append(search_clause(filters.q))
    return criteria


def visible_leads(viewer: Viewer, filters: LeadFilters | None = None) -> Select:
    return select(Lead).where(*filter_criteria(viewer, filters or LeadFilters()))


def sorted_leads(viewer: Viewer, filters: LeadFilters, sort: str = DEFAULT_SORT) -> tuple[Select, str]:
    """The list's query and the sort actually used (unknown sorts fall back)."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORTS:
        key, descending = DEFAULT_SORT.lstrip("-"), True
    columns = SORTS[key]
    order = [column.desc() if descending else column.asc() for column in columns]
    order.append(Lead.id.desc() if descending else Lead.id.asc())
    return visible_leads(viewer, filters).order_by(*order), ("-" if descending else "") + key


def get_visible_lead(session: Session, viewer: Viewer, lead_id: int) -> Lead | None:
    """The lead if it exists in the viewer's company and the viewer may see it."""
    lead = session.get(Lead, lead_id)
    if lead is None or lead.company_id != viewer.company_id or not viewer.can_see(lead):
        return None
    return lead


def stages_of(session: Session) -> list[Stage]:
    return list(session.scalars(select(Stage).order_by(Stage.position, Stage.id)))


def company_users(session: Session) -> list[User]:
    """Users who can own leads, for owner pickers and names on cards."""
    return list(session.scalars(select(User).where(User.role != "SUPER_ADMIN").order_by(User.name, User.username)))


def duplicate_emails(session: Session, company_id: int, emails: set[str]) -> set[str]:
    """Which of ``emails`` belong to more than one lead of the company."""
    emails = {email for email in emails if email}
    if not emails:
        return set()
    rows = session.execute(
        select(Lead.email)
        .where(Lead.company_id == company_id, Lead.email.in_(emails))
        .group_by(Lead.email)
        .having(func.count() > 1)
    )
    return {row[0] for row in rows}


@dataclass
class Column:
    stage: Stage
    count: int = 0
    total: Decimal = Decimal("0")
    leads: list[Lead] = field(default_factory=list)

    @property
    def has_more(self) -> bool:
        return self.count > len(self.leads)

    @property
    def cursor(self) -> str:
        last = self.leads[-1] if self.leads else None
        return f"{last.position}:{last.id}" if last else ""


def board(session: Session, viewer: Viewer, filters: LeadFilters, per_column: int = BOARD_PAGE) -> list[Column]:
    """Every stage with its count, value total and first cards (three statements)."""
    filters = filters.without_stage()
    stages = stages_of(session)
    columns = {stage.id: Column(stage) for stage in stages}
    criteria = filter_criteria(viewer, filters)
    totals = session.execute(
        select(Lead.stage_id, func.count(), func.coalesce(func.sum(Lead.value), 0))
        .where(*criteria)
        .group_by(Lead.stage_id)
    )
    for stage_id, count, total in totals:
        if stage_id in columns:
            columns[stage_id].count = count
            columns[stage_id].total = Decimal(total or 0)
    wanted = [column.stage.id for column in columns.values() if column.count]
    if wanted:
        # One indexed "first N by position" per stage, glued into one statement.
        firsts = [
            select(Lead.id)
            .where(*criteria, Lead.stage_id == stage_id)
            .order_by(Lead.position, Lead.id)
            .limit(per_column)
            .subquery()
            for stage_id in wanted
        ]
        ids = union_all(*[select(sub.c.id) for sub in firsts]).subquery()
        leads = session.scalars(select(Lead).where(Lead.id.in_(select(ids.c.id)))).all()
        for lead in sorted(leads, key=lambda lead: (lead.position, lead.id)):
            columns[lead.stage_id].leads.append(lead)
    return list(columns.values())


def more_cards(
    session: Session,
    viewer: Viewer,
    filters: LeadFilters,
    stage_id: int,
    after: tuple[int, int] | None,
    limit: int = BOARD_PAGE,
) -> list[Lead]:
    """The next cards of one column after the card at ``after`` (position, id)."""
    criteria = filter_criteria(viewer, filters.without_stage())
    criteria.append(Lead.stage_id == stage_id)
    if after is not None:
        position, lead_id = after
        criteria.append(or_(Lead.position > position, and_(Lead.position == position, Lead.id > lead_id)))
    return list(session.scalars(select(Lead).where(*criteria).order_by(Lead.position, Lead.id).limit(limit)))


def parse_cursor(raw: str | None) -> tuple[int, int] | None:
    if not raw:
        return None
    position, _, lead_id = raw.partition(":")
    try:
        return bounded_int(position, minimum=-MAX_INT32 - 1, maximum=MAX_INT32), bounded_int(
            lead_id, minimum=0, maximum=MAX_ID
        )
    except NumberError:
        return None
