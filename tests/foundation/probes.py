"""Throw-away routes for the foundation tests, added with ``make_app(includes=[...])``.

They fail on purpose, after writing, so the tests can check what survives (the system
log entry) and what does not (the request's own writes)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from pluggy import PluginManager
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from orbitflow import hookimpl
from orbitflow.db import unscoped
from orbitflow.events import LeadEvent, QuizEvent
from orbitflow.plugins import notify_after_commit
from orbitflow.shared import shared
from orbitflow.tenants.models import Company
from orbitflow.tenants.services import create_company


class ProbeFailure(RuntimeError):
    """The error the probe routes raise."""


@dataclass
class EventRecorder:
    """A plugin object implementing every event hook; remembers what it saw and whether
    the request's write was already committed when it was called."""

    engine: Engine
    calls: list[tuple[str, LeadEvent | QuizEvent, bool]] = field(default_factory=list)
    fail_for: set[int] = field(default_factory=set)

    def _record(self, hook: str, event: LeadEvent | QuizEvent) -> None:
        # A connection of its own sees committed rows only.
        with self.engine.connect() as connection:
            committed = connection.scalar(select(Company.id).where(Company.id == event.company_id)) is not None
        self.calls.append((hook, event, committed))
        if getattr(event, "lead_id", None) in self.fail_for:
            raise ProbeFailure(f"{hook} failed for lead {event.lead_id}")

    @hookimpl
    def lead_created(self, event: LeadEvent) -> None:
        self._record("lead_created", event)

    @hookimpl
    def lead_updated(self, event: LeadEvent) -> None:
        self._record("lead_updated", event)

    @hookimpl
    def lead_moved(self, event: LeadEvent) -> None:
        self._record("lead_moved", event)

    @hookimpl
    def quiz_viewed(self, event: QuizEvent) -> None:
        self._record("quiz_viewed", event)

    @hookimpl
    def quiz_started(self, event: QuizEvent) -> None:
        self._record("quiz_started", event)

    @hookimpl
    def quiz_submitted(self, event: QuizEvent) -> None:
        self._record("quiz_submitted", event)


def _doomed_company(request) -> Company:
    name = request.params.get("name") or f"Doomed {uuid.uuid4().hex[:8]}"
    with unscoped(request.dbsession):
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        company = create_company(request.dbsession, name=name, subscription_id=slug)
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
    """Write a company, announce an event about it after commit, then maybe fail."""
    company = _doomed_company(request)
    hook = request.params.get("hook", "lead_created")
    lead_id = int(request.params.get("lead_id", "1"))
    if hook.startswith("lead_"):
        payload = LeadEvent(company_id=company.id, lead_id=lead_id, actor_id=None)
    else:
        payload = QuizEvent(company_id=company.id, quiz_id=7, lead_id=lead_id)
    notify_after_commit(request, hook, payload)
    if request.params.get("fail"):
        raise ProbeFailure("the view failed after notifying")
    return Response(f"company {company.id}")


def tenancy(request):
    """What a request bound to the signed-in user's company can reach, by every ORM path."""
    from sqlalchemy.orm import joinedload, selectinload

    from orbitflow.accounts.models import User
    from orbitflow.leads.models import Lead, LeadNote, Stage

    session = request.dbsession
    lead_id = int(request.params["lead_id"])
    foreign_id = int(request.params["foreign_lead_id"])
    lead = session.get(Lead, lead_id)
    joined = session.scalars(select(Lead).options(joinedload(Lead.owner)).where(Lead.id == lead_id)).unique().one()
    loaded = session.scalars(select(Lead).options(selectinload(Lead.tag_rows))).all()
    return {
        "company_id": request.identity.company_id,
        "lead_names": sorted(row.name for row in session.scalars(select(Lead))),
        "lead_count": session.scalar(select(func.count()).select_from(Lead)),
        "user_companies": sorted({user.company_id for user in session.scalars(select(User))}),
        "stage_companies": sorted({stage.company_id for stage in session.scalars(select(Stage))}),
        "foreign_get": session.get(Lead, foreign_id) is not None,
        "foreign_by_id": session.scalars(select(Lead).where(Lead.id == foreign_id)).all() != [],
        "lazy_owner": lead.owner.username if lead.owner else None,
        "lazy_stage": lead.stage.company_id if lead.stage else None,
        "lazy_tags": sorted(tag.tag for tag in lead.tag_rows),
        "joined_owner": joined.owner.username if joined.owner else None,
        "selectin_tags": sorted(tag.tag for row in loaded for tag in row.tag_rows),
        "notes": sorted(note.body for note in session.scalars(select(LeadNote).join(Lead))),
    }


def probe_routes(recorder: EventRecorder):
    def includeme(config) -> None:
        shared(config.registry, PluginManager).register(recorder, name="probe-recorder")
        for name, path, view in (
            ("probe_boom", "/probe/boom", boom),
            ("probe_api_boom", "/api/probe/boom", boom),
            ("probe_event", "/probe/event", event),
        ):
            config.add_route(name, path)
            config.add_view(view, route_name=name, permission=NO_PERMISSION_REQUIRED)
        config.add_route("probe_tenancy", "/api/probe/tenancy")
        config.add_view(tenancy, route_name="probe_tenancy", renderer="json", permission="dashboard.view")

    return includeme
