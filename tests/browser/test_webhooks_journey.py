"""The webhook journey in chromium: create, see the secret once, send a test, see the
delivery and its answer, resend. The app's own worker thread does the sending."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import update

from orbitflow.app import make_app
from orbitflow.deliveries import Delivery, WorkerThread
from orbitflow.models.meta import utcnow
from orbitflow.shared import shared
from support import PASSWORD, LiveServer
from webhooks.hookkit import Answer, Receiver


@pytest.fixture
def hooks_server(backend):
    def make(url: str):
        settings = backend.ini(
            **{
                "orbitflow.auth_url": url,
                "orbitflow.deliveries.worker_thread": "true",
                "orbitflow.deliveries.poll_seconds": "0.1",
            }
        )
        return make_app(settings, environ={"WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true"}, engine=backend.engine)

    server = LiveServer(make)
    server.start()
    yield server.url
    server.stop()
    shared(server.app.registry, WorkerThread).stop()


def _reload_until(page, selector: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while page.locator(selector).count() == 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} never appeared")
        time.sleep(0.3)
        page.reload()


def test_webhook_journey(chromium, hooks_server, make_company, make_user, db):
    receiver = Receiver().start()
    try:
        company = make_company(name="Journey Hooks", subscription_id="journey-hooks")
        make_user(company, "OWNER", username="hana")
        context = chromium.new_context(base_url=hooks_server)
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto("/login")
        page.fill("#subscription_id", "journey-hooks")
        page.fill("#username", "hana")
        page.fill("#password", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_url("**/dashboard")
        page.get_by_role("link", name="Webhooks", exact=True).click()
        page.wait_for_url("**/settings/webhooks")
        page.fill("#url", receiver.url)
        page.uncheck("input[name=events][value='lead.deleted']")
        page.click("#webhook-form button[type=submit]")
        secret = page.locator("[data-webhook-secret]").inner_text()
        assert re.fullmatch(r"whsec_\S+", secret)
        receiver.secret = secret
        page.get_by_role("link", name="Open the webhook").click()
        assert page.locator("[data-webhook-secret]").count() == 0, "the secret is shown only once"
        assert secret not in page.content()
        receiver.answers.append(Answer(503, b"maintenance"))
        page.click("#webhook-test button")
        assert "Test event queued" in page.locator(".flash-success").inner_text()
        _reload_until(page, "tr[data-status='pending'] [data-status-code]")
        row = page.locator("#deliveries tbody tr").first
        assert "503" in row.locator("[data-answer]").inner_text()
        assert "maintenance" in row.locator("[data-answer]").inner_text()
        # Not final yet: it waits for its retry. Make it final by answering 400 next.
        db.execute(update(Delivery).values(next_attempt_at=utcnow()))
        db.commit()
        receiver.answers.append(Answer(400, b"bad request"))
        _reload_until(page, "tr[data-status='failed']")
        page.locator("#deliveries tbody tr").first.get_by_role("button", name="Resend").click()
        assert "Delivery queued again" in page.locator(".flash-success").inner_text()
        _reload_until(page, "tr[data-status='delivered']")
        assert "200" in page.locator("tr[data-status='delivered'] [data-answer]").inner_text()
        page.locator("tr[data-status='delivered'] details summary").click()
        log = page.locator("tr[data-status='delivered'] details ol").inner_text()
        assert "retry 503" in log and "failed 400" in log and "delivered 200" in log
        assert len(receiver.received) == 3 and all(r.verified for r in receiver.received)
        assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
        context.close()
    finally:
        receiver.stop()
