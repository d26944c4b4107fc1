"""Fixtures for the outbox: an app with a small plugin that enqueues a delivery for every
domain event and sends them through a channel that keeps what it was given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
import webtest
from pluggy import PluginManager
from sqlalchemy import select

from orbitflow import hookimpl
from orbitflow.app import make_app
from orbitflow.db import make_session_factory
from orbitflow.deliveries import Delivery, SendResult, Worker, enqueue
from orbitflow.leads.models import Stage
from orbitflow.ratelimit import rate_limiter
from orbitflow.shared import shared


@dataclass
class ScriptedChannel:
    """A channel whose answers the test chooses; it keeps every batch it was handed."""

    name: str = "scripted"
    max_batch: int = 1
    answers: list[SendResult] = field(default_factory=list)
    batches: list[list[tuple[int, str, dict]]] = field(default_factory=list)
    settled_calls: list[tuple[int, str]] = field(default_factory=list)

    def send(self, deliveries: Sequence[Delivery]) -> list[SendResult]:
        self.batches.append([(row.id, row.event_id, row.payload) for row in deliveries])
        return [self.answers.pop(0) if self.answers else SendResult("delivered", 200, "ok") for _ in deliveries]

    def settled(self, session, delivery, status, result) -> None:
        self.settled_calls.append((delivery.id, status))


class OutboxPlugin:
    """Enqueues one delivery per domain event, as a webhook plugin would."""

    def __init__(self, channel: ScriptedChannel):
        self.channel = channel
        self.in_transaction: list[tuple[str, str, bool]] = []
        self.after_commit: list[str] = []

    @hookimpl
    def delivery_channels(self, registry):
        return [self.channel]

    @hookimpl
    def domain_event_in_transaction(self, session, name, event):
        # The session is the change's own: its uncommitted rows are visible here.
        self.in_transaction.append((name, event.event_id, session.in_transaction()))
        enqueue(
            session,
            company_id=event.company_id,
            channel=self.channel.name,
            destination="receiver-1",
            payload={"type": name, "lead": getattr(event, "lead", None)},
            event_id=event.event_id,
        )

    @hookimpl
    def lead_created(self, event):
        self.after_commit.append("lead_created")


class ProbeFailure(Exception):
    pass


def create_then_fail(request):
    """Create a lead, announce it (the delivery is enqueued), then fail the request."""
    from orbitflow.leads.services import announce, create_lead, lead_event

    lead = create_lead(request.dbsession, company_id=request.identity.company_id, actor_id=None, name="Doomed")
    announce(request, "lead_created", lead_event(lead, None))
    request.dbsession.flush()
    raise ProbeFailure("after the delivery was enqueued")


@pytest.fixture(scope="session")
def scripted_channel() -> ScriptedChannel:
    return ScriptedChannel()


@pytest.fixture(scope="session")
def outbox_plugin(scripted_channel) -> OutboxPlugin:
    return OutboxPlugin(scripted_channel)


@pytest.fixture(autouse=True)
def _fresh_probes(scripted_channel, outbox_plugin):
    for recorded in (
        outbox_plugin.in_transaction,
        outbox_plugin.after_commit,
        scripted_channel.answers,
        scripted_channel.batches,
        scripted_channel.settled_calls,
    ):
        recorded.clear()


@pytest.fixture(scope="session")
def outbox_app(backend, outbox_plugin, per_backend):
    def register(config) -> None:
        shared(config.registry, PluginManager).register(outbox_plugin, name="outbox-probe")
        config.add_route("outbox_probe_fail", "/outbox-probe/create-then-fail")
        config.add_view(create_then_fail, route_name="outbox_probe_fail", permission="leads.create", require_csrf=False)

    def make():
        return make_app(backend.ini(), environ={}, engine=backend.engine, includes=[register])

    return per_backend.app("outbox_app", backend.name, make)


@pytest.fixture
def outbox_client(outbox_app, db) -> webtest.TestApp:
    rate_limiter(outbox_app.registry).reset()
    return webtest.TestApp(outbox_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.1"})


@pytest.fixture
def worker(outbox_app, scripted_channel) -> Worker:
    from orbitflow.deliveries import worker_for

    return worker_for(outbox_app.registry)


@pytest.fixture
def factory(backend):
    return make_session_factory(backend.engine)


@pytest.fixture
def company(make_company):
    return make_company(name="Outbox Co")


@pytest.fixture
def owner(make_user, company):
    return make_user(company, "OWNER", username="olivia")


@pytest.fixture
def first_stage(db, company) -> Stage:
    return db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)).first()


@pytest.fixture
def add_delivery(factory, company):
    """Commit a due delivery of the scripted channel straight into the outbox."""
    counter = iter(range(1, 1_000_000))

    def add(channel: str = "scripted", destination: str = "receiver-1", **payload) -> int:
        session = factory()
        session.info["tenant_bypass"] = True
        event_id = f"evt_test_{next(counter)}"
        with session.begin():
            enqueue(
                session,
                company_id=company.id,
                channel=channel,
                destination=destination,
                payload=payload or {"n": next(counter)},
                event_id=event_id,
            )
            row_id = session.scalar(select(Delivery.id).where(Delivery.event_id == event_id))
        session.close()
        return row_id

    return add
