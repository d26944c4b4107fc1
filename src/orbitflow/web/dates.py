"""Dates and amounts on pages, in the signed-in user's company's locale
(:mod:`orbitflow.tenants.locale`): times stored as naive UTC are shown in the company's
time zone (else ``TZ``) with the zone's name, amounts in the company's currency."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime

from jinja2 import pass_context
from pyramid.request import Request

from orbitflow.tenants.locale import CompanyLocale
from orbitflow.tenants.zones import zone


def page_locale(request: Request | None) -> CompanyLocale | None:
    return request.company_locale if request is not None else None


def display_zone(request: Request | None) -> zoneinfo.ZoneInfo:
    """The signed-in user's company's time zone, else the installation's (``TZ``)."""
    locale = page_locale(request)
    return locale.zone if locale is not None else zone("UTC")


def to_display(value: datetime, where: zoneinfo.ZoneInfo) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(where)


def zone_label(moment: datetime) -> str:
    """The zone's abbreviation at ``moment`` (CET, CEST, EST); zones without one get
    their offset (UTC+04) rather than a bare ``+04``."""
    label = moment.strftime("%Z")
    return f"UTC{label}" if label[:1] in "+-" else label


@pass_context
def format_datetime(context, value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """The ``datetime`` filter: a time of day carries its zone's name (CET, EST)."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return value.strftime(fmt)  # a date has no time zone
    shown = to_display(value, display_zone(context.get("request")))
    return shown.strftime(fmt) + " " + zone_label(shown) if "H" in fmt else shown.strftime(fmt)


@pass_context
def format_money(context, value) -> str:
    """The ``money`` filter: ``{{ lead.value|money }}`` in the company's currency."""
    locale = page_locale(context.get("request"))
    if locale is None:
        return "—" if value is None else f"{value:,.2f}"
    return locale.money(value)
