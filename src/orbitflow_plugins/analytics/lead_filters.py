"""The lead list's filter on a lead's first win (``won_from``/``won_to``, UTC, end
excluded): what the dashboard's won numbers link to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, select

from orbitflow.leads.models import Lead
from orbitflow.leads.queries import format_utc, parse_utc
from orbitflow.plugins import LeadListFilter
from orbitflow_plugins.analytics.models import LeadFact


def _first_won_in(company_id: int, values: Mapping[str, Any]) -> ColumnElement[bool]:
    """Leads in a won stage now whose first win fell in the window (as the dashboard counts)."""
    won = [LeadFact.company_id == company_id, LeadFact.won_at.is_not(None)]
    if "won_from" in values:
        won.append(LeadFact.won_at >= values["won_from"])
    if "won_to" in values:
        won.append(LeadFact.won_at < values["won_to"])
    return Lead.id.in_(select(LeadFact.lead_id).where(*won))


WON_FILTER = LeadListFilter(("won_from", "won_to"), parse_utc, _first_won_in, format_utc)
