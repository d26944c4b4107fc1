"""The date range of a report: two local days, both included, at most two years apart."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

MAX_DAYS = 731
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PRESETS = {"7": "Last 7 days", "30": "Last 30 days", "90": "Last 90 days", "month": "This month"}
DEFAULT_PRESET = "30"


class RangeError(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__(" ".join(fields.values()))
        self.fields = fields


@dataclass(frozen=True)
class DayRange:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> DayRange:
        """The same number of days just before."""
        return DayRange(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def params(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def parse_day(raw: str, name: str) -> date:
    if not DAY_RE.match(raw):
        raise RangeError({name: f"{name} must be a date written YYYY-MM-DD."})
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise RangeError({name: f"{name} is not a calendar date."}) from None


def preset_range(preset: str, today: date) -> DayRange:
    if preset == "month":
        return DayRange(today.replace(day=1), today)
    days = int(preset)
    return DayRange(today - timedelta(days=days - 1), today)


def parse_range(params: Mapping[str, str], today: date, *, default_preset: str = DEFAULT_PRESET) -> DayRange:
    """``from``/``to`` (both or neither; neither means the default preset) or ``preset``."""
    raw_from = (params.get("from") or "").strip()
    raw_to = (params.get("to") or "").strip()
    if not raw_from and not raw_to:
        preset = params.get("preset") or default_preset
        if preset not in PRESETS:
            raise RangeError({"preset": f"preset must be one of {', '.join(PRESETS)}."})
        return preset_range(preset, today)
    if not raw_from or not raw_to:
        raise RangeError({"from" if not raw_from else "to": "Give both from and to (YYYY-MM-DD)."})
    first, last = parse_day(raw_from, "from"), parse_day(raw_to, "to")
    if last < first:
        raise RangeError({"to": "to must be the same day as from or later."})
    if (last - first).days + 1 > MAX_DAYS:
        raise RangeError({"to": f"A range covers at most {MAX_DAYS} days (two years)."})
    return DayRange(first, last)
