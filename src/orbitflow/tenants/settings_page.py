"""Saving a company settings page: one way for the core and every plugin.

A settings page validates its form, then hands the clean values here: the company takes
them, a change is audited as ``company.update`` (an unchanged form writes nothing), the
page flashes what happened and the browser is sent back to the page (303)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request

from orbitflow.audit.services import audit, diff
from orbitflow.tenants.models import Company
from orbitflow.web.layout import flash


def save_company_settings(
    request: Request,
    company: Company,
    values: dict[str, Any],
    *,
    saved: str,
    route_name: str,
    on_change: Callable[[Company], None] | None = None,
) -> HTTPSeeOther:
    """Set ``values`` on ``company``; ``on_change`` runs (before the audit row) only when
    something changed, in the same transaction."""
    before = {key: getattr(company, key) for key in values}
    for key, value in values.items():
        setattr(company, key, value)
    changes = diff(before, values)
    if changes:
        if on_change is not None:
            on_change(company)
        audit(request, "company.update", company, changes=changes)
        flash(request, saved, "success")
    else:
        flash(request, "Nothing changed.", "info")
    return HTTPSeeOther(request.route_url(route_name))
