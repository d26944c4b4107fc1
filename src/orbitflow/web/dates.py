"""Dates on pages: stored as naive UTC, shown in the company's time zone, else ``TZ``."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime

from jinja2 import pass_context
from pyramid.request import Request

from orbitflow.config import get_settings
from orbitflow.tenants.zones import zone

ZONE_KEY = "orbitflow.display_zone"


def display_zone(request: Request | None) -> zoneinfo.ZoneInfo:
    """The signed-in user's company's time zone, else the installation's (``TZ``)."""
    if request is None:
        return zone("UTC")
    cached = request.environ.get(ZONE_KEY)
    if cached is not None:
        return cached
    name = get_settings(request.registry).timezone
    identity = request.identity
    if identity is not None:
        from orbitflow.db import unscoped
        from orbitflow.tenants.models import Company

        with unscoped(request.dbsession):
            company = request.dbsession.get(Company, identity.company_id)
        if company is not None and company.time_zone:
            name = company.time_zone
    request.environ[ZONE_KEY] = found = zone(name)
    return found


def to_display(value: datetime, where: zoneinfo.ZoneInfo) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(where)


@pass_context
def format_datetime(context, value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """The ``datetime`` filter: a time of day carries its zone's abbreviation (CET, UTC)."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return value.strftime(fmt)  # a date has no time zone
    shown = to_display(value, display_zone(context.get("request")))
    return shown.strftime(fmt) + " " + shown.strftime("%Z") if "H" in fmt else shown.strftime(fmt)
