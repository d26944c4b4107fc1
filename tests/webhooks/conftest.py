"""Webhook tests: an app that may send to 127.0.0.1 (the receivers run there), with a
short time-out, and real receivers."""

from __future__ import annotations

import pytest
import webtest

from orbitflow.app import make_app
from orbitflow.deliveries import worker_for
from orbitflow.ratelimit import rate_limiter
from support import login
from webhooks.hookkit import Api, Receiver

TIMEOUT_SECONDS = "1"


def _app(backend, *, allow_private: bool):
    settings = backend.ini(
        **{
            "orbitflow.deliveries.http_timeout_seconds": TIMEOUT_SECONDS,
            "orbitflow.webhooks.disable_after_failures": "3",
        }
    )
    return make_app(
        settings,
        environ={"WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true" if allow_private else "false"},
        engine=backend.engine,
    )


@pytest.fixture(scope="session")
def hooks_app(backend, per_backend):
    return per_backend.app("hooks_app", backend.name, lambda: _app(backend, allow_private=True))


@pytest.fixture(scope="session")
def strict_app(backend, per_backend):
    """WEBHOOKS_ALLOW_PRIVATE_NETWORKS=false, as in production."""
    return per_backend.app("strict_app", backend.name, lambda: _app(backend, allow_private=False))


@pytest.fixture(scope="session")
def _receivers():
    started = [Receiver().start(), Receiver().start()]
    yield started
    for receiver in started:
        receiver.stop()


@pytest.fixture
def receiver(_receivers) -> Receiver:
    _receivers[0].reset()
    return _receivers[0]


@pytest.fixture
def other_receiver(_receivers) -> Receiver:
    _receivers[1].reset()
    return _receivers[1]


@pytest.fixture
def client_for(hooks_app, strict_app, db):
    # The apps live for the session: sign-in rate limits start empty for each test.
    for app in (hooks_app, strict_app):
        rate_limiter(app.registry).reset()

    def make(user, app=None) -> webtest.TestApp:
        client = webtest.TestApp(app or hooks_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.1"})
        login(client, user)
        return client

    return make


@pytest.fixture
def company(make_company):
    return make_company(name="Hooked Co")


@pytest.fixture
def owner(make_user, company):
    return make_user(company, "OWNER", username="olivia", email="olivia@example.com")


@pytest.fixture
def owner_client(client_for, owner):
    return client_for(owner)


@pytest.fixture
def worker(hooks_app):
    return worker_for(hooks_app.registry)


@pytest.fixture
def api(owner_client) -> Api:
    return Api(owner_client)


@pytest.fixture
def make_webhook(api, receiver):
    def make(url: str | None = None, events=None, client: Api | None = None, target: Receiver | None = None) -> dict:
        target = target or receiver
        created = (
            (client or api)
            .post(
                "/api/v1/webhooks",
                {
                    "url": url or target.url,
                    "events": events
                    or ["lead.created", "lead.updated", "lead.moved", "lead.deleted", "quiz.submitted"],
                },
                status=201,
            )
            .json
        )
        target.secret = created["secret"]
        return created

    return make
