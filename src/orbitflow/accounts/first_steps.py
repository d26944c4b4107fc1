"""The set-up checklist on a new company's dashboard, for owners and admins.

Steps come from the ``first_steps`` hook (the core's, the plugins'); each says with a SQL
expression whether it is done, and one query reads them all together with whether
someone dismissed the checklist (an audit entry ``dashboard.first_steps_dismiss``: the
dismissal is recorded once, where the company's history is kept).
"""

from __future__ import annotations

from dataclasses import dataclass

from pluggy import PluginManager
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import exists, select

from orbitflow.audit.models import AuditEntry
from orbitflow.audit.services import audit
from orbitflow.plugins import FirstStep, collect
from orbitflow.shared import shared
from orbitflow.web.layout import flash

DISMISS_ACTION = "dashboard.first_steps_dismiss"
# Who sees the checklist (and may dismiss it): the people who set a company up.
PERMISSION = "company.settings"


@dataclass(frozen=True)
class StepState:
    step: FirstStep
    done: bool


def first_steps(request: Request) -> list[StepState]:
    """The checklist's steps with their state; empty when there is nothing to show (not
    an owner or admin, every step done, or dismissed)."""
    if not request.has_permission(PERMISSION):
        return []
    steps = sorted(
        (
            step
            for step in collect(shared(request.registry, PluginManager), "first_steps", request=request)
            if request.has_permission(step.permission)
        ),
        key=lambda step: (step.order, step.label),
    )
    if not steps:
        return []
    dismissed = exists().where(
        AuditEntry.company_id == request.identity.company_id, AuditEntry.action == DISMISS_ACTION
    )
    row = request.dbsession.execute(select(dismissed, *(step.done for step in steps))).one()
    if row[0]:
        return []
    states = [StepState(step, bool(done)) for step, done in zip(steps, row[1:], strict=True)]
    return [] if all(state.done for state in states) else states


@view_config(route_name="first_steps_dismiss", request_method="POST", permission=PERMISSION)
def dismiss(request: Request):
    audit(request, DISMISS_ACTION, target_type="company", target_id=request.identity.company_id)
    flash(request, "First steps hidden.")
    return HTTPSeeOther(request.route_url("home"))


def includeme(config) -> None:
    config.add_route("first_steps_dismiss", "/dashboard/first-steps/dismiss")
    config.scan(__name__)
