"""Throw-away routes for the foundation tests, added with ``make_app(includes=[...])``.

They fail on purpose, after writing, so the tests can check what survives (the system
log entry) and what does not (the request's own writes)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from orbitflow import hookimpl
from orbitflow.db import unscoped
from orbitflow.events import LeadEvent
from orbitflow.plugins import notify_after_commit
from orbitflow.tenants.models import Company
from orbitflow.tenants.services import create_company


class ProbeFailure(RuntimeError):
    """The error the probe routes raise."""


@dataclass
class EventRecorder:
    """A plugin object implementing ``lead_created``; remembers what it saw."""

    engine: Engine
    calls: list[tuple[LeadEvent, bool]] = field(default_factory=list)
    fail_for: set[int] = field(default_factory=set)

    @hookimpl
    def lead_created(self, event: LeadEvent) -> None:
        # Read through a connection of its own: is the request's write visible (committed)?
        with self.engine.connect() as connection:
            committed = connection.scalar(select(Company.id).where(Company.id == event.company_id)) is not None
        self.calls.append((event, committed))
        if event.lead_id in self.fail_for:
            raise ProbeFailure(f"hook failed for lead {event.lead_id}")


def _doomed_company(request) -> Company:
    name = request.params.get("name") or f"Doomed {uuid.uuid4().hex[:8]}"
    with unscoped(request.dbsession):
        company = create_company(request.dbsession, name=name, subscription_id=name.lower().replace(" ", "-"))
        request.dbsession.flush()
    return company


def boom(request):
    """Write a company, then fail in one of several ways."""
    kind = request.params.get("kind", "runtime")
    request.identity  # noqa: B018 -- as a view with a permission would, before it fails
    company = _doomed_company(request)
    if kind == "integrity":
        # A failed flush leaves the session unusable: the error page must still render.
        with unscoped(request.dbsession):
            request.dbsession.add(Company(name="Clash", subscription_id=company.subscription_id, plan="FREE"))
            request.dbsession.flush()
    if kind == "sql":
        request.dbsession.execute(text("SELECT * FROM no_such_table"))
    raise ProbeFailure(f"probe failure {request.params.get('marker', '')}".strip())


def event(request):
    company = _doomed_company(request)
    lead_id = int(request.params.get("lead_id", "1"))
    notify_after_commit(request, "lead_created", LeadEvent(company_id=company.id, lead_id=lead_id, actor_id=None))
    if request.params.get("fail"):
        raise ProbeFailure("the view failed after notifying")
    return Response(f"company {company.id}")


def probe_routes(recorder: EventRecorder):
    def includeme(config) -> None:
        config.registry["plugin_manager"].register(recorder, name="probe-recorder")
        for name, path, view in (
            ("probe_boom", "/probe/boom", boom),
            ("probe_api_boom", "/api/probe/boom", boom),
            ("probe_event", "/probe/event", event),
        ):
            config.add_route(name, path)
            config.add_view(view, route_name=name, permission=NO_PERMISSION_REQUIRED)

    return includeme
