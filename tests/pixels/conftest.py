"""Pixel tests: an app whose server events go to fake Graph and TikTok servers on
127.0.0.1 (PIXELS_META_API_URL / PIXELS_TIKTOK_API_URL), which record what they get."""

from __future__ import annotations

import pytest
import webtest

from orbitflow.app import make_app
from orbitflow.deliveries import worker_for
from orbitflow.lifecycle import shut_down
from orbitflow.ratelimit import rate_limiter
from orbitflow.shared import shared
from orbitflow_plugins.quiz.cache import DefinitionCache
from orbitflow_plugins.quiz.ratelimit import QuizRateLimiter
from support import login
from webhooks.hookkit import Api, Receiver


class PixelApi(Api):
    def put(self, url, body, status=200):
        return self.client.put_json(url, body, headers=self._headers(), status=status)


def base_url(receiver: Receiver) -> str:
    return receiver.url.split("/hooks/")[0]


@pytest.fixture(scope="session")
def _vendors():
    started = {"meta": Receiver().start(), "tiktok": Receiver().start()}
    yield started
    for receiver in started.values():
        receiver.stop()


@pytest.fixture
def meta(_vendors) -> Receiver:
    _vendors["meta"].reset()
    return _vendors["meta"]


@pytest.fixture
def tiktok(_vendors) -> Receiver:
    _vendors["tiktok"].reset()
    return _vendors["tiktok"]


def _make_pixels_app(backend, vendors, **environ: str):
    return make_app(
        backend.ini(**{"orbitflow.deliveries.http_timeout_seconds": "1"}),
        environ={
            "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
            "PIXELS_META_API_URL": base_url(vendors["meta"]),
            "PIXELS_TIKTOK_API_URL": base_url(vendors["tiktok"]),
            "FACEBOOK_PIXEL_ID": "999999999999999",
            **environ,
        },
        engine=backend.engine,
    )


@pytest.fixture(scope="session")
def pixels_app(backend, _vendors, per_backend):
    return per_backend.app("pixels_app", backend.name, lambda: _make_pixels_app(backend, _vendors))


@pytest.fixture
def app_with_keys(backend, _vendors, fresh):
    """The same installation started with another ENCRYPTION_KEY (``pixels_app`` uses the
    key derived from AUTH_SECRET)."""
    started = []

    def make(keys: str):
        app = _make_pixels_app(backend, _vendors, ENCRYPTION_KEY=keys)
        started.append(app)
        return app

    yield make
    for app in started:
        shut_down(app.registry)


@pytest.fixture
def fresh(pixels_app, db):
    rate_limiter(pixels_app.registry).reset()
    shared(pixels_app.registry, QuizRateLimiter).reset()
    shared(pixels_app.registry, DefinitionCache).clear()


@pytest.fixture
def client_for(pixels_app, fresh):
    def make(user) -> PixelApi:
        client = webtest.TestApp(pixels_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.1"})
        login(client, user)
        return PixelApi(client)

    return make


@pytest.fixture
def visitor(pixels_app, fresh) -> webtest.TestApp:
    return webtest.TestApp(pixels_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "203.0.113.7"})


@pytest.fixture
def company(make_company):
    return make_company(name="Pixel Co", subscription_id="pixel-co")


@pytest.fixture
def owner(make_user, company):
    return make_user(company, "OWNER", username="olga", email="olga@example.com")


@pytest.fixture
def api(client_for, owner) -> PixelApi:
    return client_for(owner)


@pytest.fixture
def worker(pixels_app):
    return worker_for(pixels_app.registry)
