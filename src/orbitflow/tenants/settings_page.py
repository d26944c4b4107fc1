"""Saving a company settings page: one way for the core and every plugin.

A settings page validates its form, then hands the clean values here: the company takes
them, a change is recorded (an unchanged form writes nothing), the page flashes what
happened and the browser is sent back to the page (303).

Recording a change of a company is one step wherever it is made (these pages, the super
admin's form and API): the ``company.update`` audit row with the diff, and the
``company_updated`` domain event to the plugins, in the same transaction (the analytics
plugin recounts its days when the time zone moved)."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request

from orbitflow.audit.services import audit, diff
from orbitflow.events import CompanyEvent
from orbitflow.plugins import notify_in_transaction
from orbitflow.tenants.models import Company
from orbitflow.web.layout import flash


def record_company_update(request: Request, company: Company, changes: dict[str, Any]) -> None:
    """Audit ``changes`` (a :func:`~orbitflow.audit.services.diff`) of ``company`` in that
    company's log and announce them to the plugins, inside the request's transaction."""
    audit(request, "company.update", company, changes=changes, company_id=company.id)
    request.dbsession.flush()  # the hooks read the changed row
    event = CompanyEvent(company_id=company.id, actor_id=request.identity.user_id or None, changes=changes)
    notify_in_transaction(request.registry, request.dbsession, "company_updated", event)


def apply_company_settings(request: Request, company: Company, values: dict[str, Any]) -> dict[str, Any]:
    """Set ``values`` on ``company`` and record the change, if any; returns the diff."""
    before = {key: getattr(company, key) for key in values}
    for key, value in values.items():
        setattr(company, key, value)
    changes = diff(before, values)
    if changes:
        record_company_update(request, company, changes)
    return changes


def save_company_settings(
    request: Request,
    company: Company,
    values: dict[str, Any],
    *,
    saved: str,
    route_name: str,
) -> HTTPSeeOther:
    """:func:`apply_company_settings`, then flash what happened and go back to the page."""
    if apply_company_settings(request, company, values):
        flash(request, saved, "success")
    else:
        flash(request, "Nothing changed.", "info")
    return HTTPSeeOther(request.route_url(route_name))
