"""The dashboard's breakdowns on demand: ``detail=utm`` adds the UTM medium and content
breakdowns to the dashboard page and the summary API."""

from __future__ import annotations

from collections.abc import Mapping

DETAILS = ("utm",)


class DetailError(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.fields = {"detail": message}


def parse_detail(params: Mapping[str, str]) -> str | None:
    """``utm`` or None (left out or empty); anything else raises :class:`DetailError`."""
    raw = (params.get("detail") or "").strip().lower()
    if not raw:
        return None
    if raw not in DETAILS:
        raise DetailError("detail must be utm (the UTM medium and content breakdowns), or left out.")
    return raw
