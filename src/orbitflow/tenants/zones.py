"""A company's time zone: the IANA name its reports count days in."""

from __future__ import annotations

import os
import zoneinfo
from functools import lru_cache

DEFAULT_ZONE = "UTC"


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name, sorted: the choices of the settings pages and the names a
    company or ``TZ`` may use. tzdata's backward-compatible links (US/Eastern) included,
    so a stored name stays valid."""
    return tuple(sorted(zoneinfo.available_timezones()))


@lru_cache(maxsize=1)
def _zone_set() -> frozenset[str]:
    return frozenset(zone_names())


def valid_zone(name: str) -> bool:
    return name in _zone_set()


def installation_zone() -> str:
    """The installation's ``TZ`` (checked at start-up by :mod:`orbitflow.config`), or UTC.

    Read from the environment, where the settings read it too, because rows are written
    outside requests (console scripts, migrations, the funnel recorder's thread)."""
    name = (os.environ.get("TZ") or "").lstrip(":")
    return name if name and valid_zone(name) else DEFAULT_ZONE


def zone_name(company) -> str:
    return company.time_zone or installation_zone()


@lru_cache(maxsize=256)
def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def company_zone(company) -> zoneinfo.ZoneInfo:
    return zone(zone_name(company))
