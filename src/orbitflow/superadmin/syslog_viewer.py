"""The system log viewer: filter by level, source, endpoint, period and error id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from pyramid.httpexceptions import HTTPNotFound
from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import Select, select

from orbitflow.accounts.models import User
from orbitflow.audit.paging import paged
from orbitflow.audit.queries import LIKE_ESCAPE, company_names, escape_like
from orbitflow.db import unscoped
from orbitflow.models.meta import utcnow
from orbitflow.syslog.models import LEVELS, SOURCES, SystemLogEntry
from orbitflow.tenants.models import Company
from orbitflow.web.inputs import path_id

LIST_TEMPLATE = "orbitflow:superadmin/templates/syslog.jinja2"
ENTRY_TEMPLATE = "orbitflow:superadmin/templates/syslog_entry.jinja2"
PERIODS = {"7d": "Last 7 days", "30d": "Last 30 days", "all": "All time", "custom": "Custom"}
DEFAULT_PERIOD = "7d"


@dataclass
class LogFilters:
    level: str = ""
    source: str = ""
    endpoint: str = ""
    q: str = ""
    error_id: str = ""
    period: str = DEFAULT_PERIOD
    since: date | None = None
    until: date | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def as_params(self) -> dict[str, str]:
        params = {
            name: value
            for name, value in (
                ("level", self.level),
                ("source", self.source),
                ("endpoint", self.endpoint),
                ("q", self.q),
                ("error_id", self.error_id),
                ("period", self.period),
            )
            if value
        }
        if self.period == "custom":
            for name in ("since", "until"):
                value = getattr(self, name)
                if value:
                    params[name] = value.isoformat()
        return params


def parse_log_filters(params: Mapping[str, str]) -> LogFilters:
    filters = LogFilters()
    errors = filters.errors
    level = params.get("level", "").strip().upper()
    if level and level not in LEVELS:
        errors["level"] = f"Choose one of {', '.join(LEVELS)}."
    else:
        filters.level = level
    source = params.get("source", "").strip().upper()
    if source and source not in SOURCES:
        errors["source"] = f"Choose one of {', '.join(SOURCES)}."
    else:
        filters.source = source
    filters.endpoint = params.get("endpoint", "").strip()[:500]
    filters.q = params.get("q", "").strip()[:200]
    filters.error_id = params.get("error_id", "").strip().upper()[:32]
    period = params.get("period", "").strip() or DEFAULT_PERIOD
    if period not in PERIODS:
        errors["period"] = "Choose a period from the list."
        period = DEFAULT_PERIOD
    filters.period = period
    if period == "custom":
        for name in ("since", "until"):
            raw = params.get(name, "").strip()
            if not raw:
                continue
            try:
                setattr(filters, name, date.fromisoformat(raw))
            except ValueError:
                errors[name] = "Use a date like 2026-05-31."
        if filters.since and filters.until and filters.since > filters.until:
            errors["until"] = "The end date is before the start date."
    return filters


def log_query(filters: LogFilters, now: datetime | None = None) -> Select:
    query = select(SystemLogEntry).order_by(SystemLogEntry.created_at.desc(), SystemLogEntry.id.desc())
    if filters.error_id:
        # An error id names one failure: found whatever period is chosen.
        return query.where(SystemLogEntry.error_id == filters.error_id)
    if filters.level:
        query = query.where(SystemLogEntry.level == filters.level)
    if filters.source:
        query = query.where(SystemLogEntry.source == filters.source)
    if filters.endpoint:
        query = query.where(SystemLogEntry.endpoint.like(f"%{escape_like(filters.endpoint)}%", escape=LIKE_ESCAPE))
    if filters.q:
        query = query.where(SystemLogEntry.message.ilike(f"%{escape_like(filters.q)}%", escape=LIKE_ESCAPE))
    now = now or utcnow()
    if filters.period in ("7d", "30d"):
        query = query.where(SystemLogEntry.created_at >= now - timedelta(days=int(filters.period[:-1])))
    elif filters.period == "custom":
        if filters.since:
            query = query.where(SystemLogEntry.created_at >= datetime.combine(filters.since, time.min))
        if filters.until:
            query = query.where(
                SystemLogEntry.created_at < datetime.combine(filters.until + timedelta(days=1), time.min)
            )
    return query


@view_config(route_name="admin_syslog", request_method="GET", renderer=LIST_TEMPLATE, permission="platform.admin")
def system_log(request: Request):
    session = request.dbsession
    filters = parse_log_filters(request.GET)
    if filters.errors:
        request.response.status_int = 400
        entries, pager = [], None
    else:
        entries, pager = paged(session, log_query(filters), request, filters.as_params())
    companies = company_names(session, {e.company_id for e in entries if e.company_id})
    return {
        "section": "syslog",
        "entries": entries,
        "pager": pager,
        "filters": filters,
        "errors": filters.errors,
        "form": {key: request.GET.get(key, "") for key in ("level", "source", "endpoint", "q", "error_id")}
        | {
            "period": filters.period,
            "since": request.GET.get("since", ""),
            "until": request.GET.get("until", ""),
        },
        "levels": LEVELS,
        "sources": SOURCES,
        "periods": PERIODS,
        "companies": companies,
        "searched": bool(set(filters.as_params()) - {"period"}),
    }


@view_config(
    route_name="admin_syslog_entry", request_method="GET", renderer=ENTRY_TEMPLATE, permission="platform.admin"
)
def system_log_entry(request: Request):
    session = request.dbsession
    entry = session.get(SystemLogEntry, path_id(request))
    if entry is None:
        raise HTTPNotFound()
    with unscoped(session):
        user = session.get(User, entry.user_id) if entry.user_id else None
    company = session.get(Company, entry.company_id) if entry.company_id else None
    return {"section": "syslog", "entry": entry, "log_user": user, "log_company": company}


def includeme(config) -> None:
    config.add_route("admin_syslog", "/admin/system-log")
    config.add_route("admin_syslog_entry", r"/admin/system-log/{id:\d+}")
    config.scan(__name__)
