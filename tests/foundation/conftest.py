"""Fixtures of the foundation tests: an app with throw-away probe routes on each backend."""

from __future__ import annotations

import itertools

import pytest
import webtest

from foundation.probes import EventRecorder, probe_routes
from orbitflow.app import make_app
from orbitflow.ratelimit import rate_limiter

PROBE_MAX_BODY = 4096
_addresses = itertools.count(1)


@pytest.fixture(scope="session")
def event_recorder(backend, per_backend) -> EventRecorder:
    return per_backend.get("event_recorder", backend.name, lambda: EventRecorder(backend.engine))


@pytest.fixture(scope="session")
def probe_app(backend, event_recorder, per_backend):
    settings = backend.ini(**{"orbitflow.max_body_bytes": str(PROBE_MAX_BODY)})
    return per_backend.app(
        "probe_app",
        backend.name,
        lambda: make_app(settings, environ={}, engine=backend.engine, includes=[probe_routes(event_recorder)]),
    )


@pytest.fixture
def probe_client(probe_app, db, event_recorder) -> webtest.TestApp:
    """A browser on the probe app, from an address of its own (rate limits are per address)."""
    event_recorder.calls.clear()
    event_recorder.fail_for.clear()
    # The system log's repeat counters too: one test's errors must not silence the next one's.
    rate_limiter(probe_app.registry).reset()
    number = next(_addresses)
    address = f"10.9.{number // 250}.{number % 250 + 1}"
    return webtest.TestApp(probe_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": address})
