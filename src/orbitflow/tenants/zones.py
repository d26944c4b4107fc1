"""A company's time zone: the IANA name its reports count days in."""

from __future__ import annotations

import os
import zoneinfo
from functools import lru_cache

DEFAULT_ZONE = "UTC"


def valid_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def installation_zone() -> str:
    """The installation's ``TZ`` (checked at start-up by :mod:`orbitflow.config`), or UTC.

    Read from the environment rather than the settings object because rows are written
    outside requests too (console scripts, the funnel recorder's thread)."""
    name = (os.environ.get("TZ") or "").lstrip(":")
    return name if name and valid_zone(name) else DEFAULT_ZONE


def zone_name(company) -> str:
    return company.time_zone or installation_zone()


@lru_cache(maxsize=256)
def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def company_zone(company) -> zoneinfo.ZoneInfo:
    return zone(zone_name(company))
