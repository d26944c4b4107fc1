"""Days in a company's time zone: which local day a UTC time falls on, and the UTC
bounds of a range of local days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The local day of a naive-UTC ``moment``."""
    return moment.replace(tzinfo=UTC).astimezone(zone).date()


def utc_bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Naive-UTC ``[start, end)`` covering the local days ``first`` to ``last``, both included."""
    start = datetime.combine(first, time(), tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    return start, end


def today(zone: ZoneInfo) -> date:
    return datetime.now(zone).date()
