"""Browser journeys: the real app served by waitress in a thread, driven by Debian's
chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil

import pytest

from orbitflow.app import make_app
from support import LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_server(backend, per_backend):
    def start() -> LiveServer:
        return LiveServer(
            lambda url: make_app(backend.ini(**{"orbitflow.auth_url": url}), environ={}, engine=backend.engine)
        ).start()

    return per_backend.get("live_server", backend.name, start, close=LiveServer.stop)


@pytest.fixture(scope="session")
def chromium():
    playwright_sync = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed: apt-get install chromium (make test does it)")
    manager = playwright_sync.sync_playwright().start()
    browser = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()
    manager.stop()


@pytest.fixture
def new_page(chromium, live_server, db):
    """Opens pages in fresh browser contexts (separate cookies); closed after the test."""
    contexts = []

    def open_page(**context_options):
        context = chromium.new_context(base_url=live_server.url, **context_options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()
