"""An ad visitor on a quiz with Meta and TikTok pixels, in Debian's chromium with the
vendors' hosts intercepted: nothing reaches them before consent; after consent and
completion the browser's Lead / SubmitForm carry the event id of the server events that
the fake Graph and TikTok servers receive; CRM pages never contact the vendors."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quiz"))

from quizkit import make_quiz

from orbitflow.app import make_app
from orbitflow.crypto import encryptor
from orbitflow.deliveries import worker_for
from orbitflow.shared import shared
from orbitflow_plugins.pixels.settings import update_settings
from orbitflow_plugins.quiz.settings import QuizSettings
from support import PASSWORD, LiveServer
from webhooks.hookkit import Receiver

META_PIXEL = "123456789012345"
TIKTOK_CODE = "C4ABCDEFGHIJ12345678"
VENDORS = ("https://connect.facebook.net/**", "https://www.facebook.com/**", "https://analytics.tiktok.com/**")

# Stand-ins for fbevents.js and events.js: they take over the base code's queues, as the
# real scripts do, and keep every call where the test can read it.
META_STUB = """(function () {
  var f = window.fbq; window.__meta = window.__meta || [];
  function rec() { window.__meta.push(JSON.parse(JSON.stringify(Array.prototype.slice.call(arguments)))); }
  var q = f.queue || []; f.callMethod = rec;
  for (var i = 0; i < q.length; i++) { rec.apply(null, q[i]); }
  f.queue = [];
})();"""
TIKTOK_STUB = """(function () {
  var t = window.ttq; window.__tiktok = window.__tiktok || [];
  for (var i = 0; i < t.length; i++) { window.__tiktok.push(JSON.parse(JSON.stringify(t[i]))); }
  t.length = 0;
  t.methods.forEach(function (m) {
    t[m] = function () { window.__tiktok.push(JSON.parse(JSON.stringify([m].concat([].slice.call(arguments))))); };
  });
})();"""


@pytest.fixture(scope="module")
def vendors():
    started = {"meta": Receiver().start(), "tiktok": Receiver().start()}
    yield started
    for receiver in started.values():
        receiver.stop()


@pytest.fixture(scope="module")
def pixel_server(backend, vendors):
    def base(receiver):
        return receiver.url.split("/hooks/")[0]

    server = LiveServer(
        lambda url: make_app(
            backend.ini(**{"orbitflow.auth_url": url}),
            environ={
                "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
                "PIXELS_META_API_URL": base(vendors["meta"]),
                "PIXELS_TIKTOK_API_URL": base(vendors["tiktok"]),
            },
            engine=backend.engine,
        )
    ).start()
    yield server
    server.stop()


@pytest.fixture
def open_page(chromium, pixel_server, db):
    contexts = []
    seen: list[str] = []
    lock = threading.Lock()

    def vendor(route):
        url = route.request.url
        with lock:
            seen.append(url)
        if "fbevents.js" in url:
            route.fulfill(status=200, content_type="application/javascript", body=META_STUB)
        elif "/i18n/pixel/events.js" in url:
            route.fulfill(status=200, content_type="application/javascript", body=TIKTOK_STUB)
        else:
            route.fulfill(status=204, body="")

    def make():
        context = chromium.new_context(base_url=pixel_server.url)
        context.set_default_timeout(10_000)
        for pattern in VENDORS:
            context.route(pattern, vendor)
        contexts.append(context)
        return context.new_page()

    make.seen = seen
    yield make
    for context in contexts:
        context.close()


def test_consent_gates_the_pixels_and_both_sides_share_the_event_id(
    open_page, pixel_server, vendors, db, make_company, make_user
):
    vendors["meta"].reset()
    vendors["tiktok"].reset()
    company = make_company(name="Pixel Journeys", subscription_id="pixel-journeys")
    owner = make_user(company, "OWNER", username="opal")
    update_settings(
        db,
        company.id,
        {
            "facebook_pixel_id": META_PIXEL,
            "facebook_access_token": "EAAB-browser-test-token",
            "tiktok_pixel_code": TIKTOK_CODE,
            "tiktok_access_token": "tiktok-browser-test-token",
        },
        encryptor(pixel_server.app.registry),
    )
    db.commit()
    quiz = make_quiz(db, company)

    visitor = open_page()
    errors: list[str] = []
    visitor.on("pageerror", lambda error: errors.append(str(error)))
    visitor.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    visitor.goto(f"/q/{company.subscription_id}/{quiz.slug}?fbclid=IwAR-Browser_Click&ttclid=tt-browser")
    visitor.get_by_label("Small").check()
    visitor.get_by_role("button", name="Next").click()
    visitor.get_by_label("TikTok").check()
    visitor.get_by_role("button", name="Next").click()
    visitor.locator("input[name^=q_]:visible").fill("example.org")
    visitor.get_by_role("button", name="Next").click()
    visitor.locator("input[name^=q_]:visible").fill("250")
    visitor.get_by_role("button", name="Next").click()
    visitor.locator(".quiz-star:visible", has_text="4").click()
    visitor.get_by_role("button", name="Next").click()
    visitor.get_by_role("textbox", name="Your name").fill("Grace Hopper")
    visitor.get_by_role("textbox", name="Email").fill("grace@example.com")
    # Page view and start happened; consent is not given yet: not one request to a vendor.
    visitor.wait_for_timeout(300)
    assert open_page.seen == []
    assert visitor.evaluate("() => " + "window.fbq.queue.map(a => Array.from(a))")[0] == ["consent", "revoke"]
    assert visitor.evaluate("() => " + "window.ttq[0]") == ["holdConsent"]

    visitor.get_by_role("checkbox", name="I agree").check()
    visitor.wait_for_function("() => window.__meta && window.__tiktok")
    assert any("connect.facebook.net" in url for url in open_page.seen)
    assert any("analytics.tiktok.com" in url for url in open_page.seen)
    meta_calls = visitor.evaluate("() => " + "window.__meta")
    assert ["consent", "grant"] in meta_calls and ["track", "PageView"] in meta_calls
    assert ["track", "ViewContent"] in meta_calls and ["init", META_PIXEL] in meta_calls
    tiktok_calls = visitor.evaluate("() => " + "window.__tiktok")
    assert ["grantConsent"] in tiktok_calls and ["page"] in tiktok_calls and ["track", "ViewContent"] in tiktok_calls

    visitor.wait_for_function(
        "seconds => Date.now() / 1000 - Number(document.querySelector('form[data-token]')"
        ".getAttribute('data-token').split('.')[1]) >= seconds",
        arg=shared(pixel_server.app.registry, QuizSettings).min_fill_seconds,
        polling=100,
    )
    visitor.get_by_role("button", name="Send my answers").click()
    expect(visitor.get_by_role("heading", name="Thank you!")).to_be_visible()
    visitor.wait_for_function(
        "() => window.__meta && window.__meta.some(c => c[1] === 'Lead')"
        " && window.__tiktok && window.__tiktok.some(c => c[1] === 'SubmitForm')"
    )
    [lead] = [c for c in visitor.evaluate("() => " + "window.__meta") if c[:2] == ["track", "Lead"]]
    [submit] = [c for c in visitor.evaluate("() => " + "window.__tiktok") if c[:2] == ["track", "SubmitForm"]]
    browser_meta_id = lead[3]["eventID"]
    browser_tiktok_id = submit[3]["event_id"]
    assert browser_meta_id == browser_tiktok_id

    worker_for(pixel_server.app.registry).run_until_idle()
    [graph] = vendors["meta"].received
    [track] = vendors["tiktok"].received
    assert graph.json["data"][0]["event_name"] == "Lead"
    assert graph.json["data"][0]["event_id"] == browser_meta_id
    assert graph.json["data"][0]["user_data"]["fbc"].endswith(".IwAR-Browser_Click")
    assert track.json["data"][0]["event"] == "SubmitForm"
    assert track.json["data"][0]["event_id"] == browser_tiktok_id
    assert track.json["data"][0]["user"]["ttclid"] == "tt-browser"
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors

    # The team's CRM pages never contact the vendors.
    open_page.seen.clear()
    team = open_page()
    team.goto("/login")
    team.fill("#subscription_id", company.subscription_id)
    team.fill("#username", owner.username)
    team.fill("#password", PASSWORD)
    team.click("button[type=submit]")
    team.wait_for_load_state("networkidle")
    for path in ("/dashboard", "/pipeline", "/settings/pixels", f"/quizzes/{quiz.id}", f"/quizzes/{quiz.id}/preview"):
        team.goto(path)
        team.wait_for_load_state("networkidle")
        assert team.url.endswith(path), team.url  # the page itself, signed in
    assert open_page.seen == []
    assert (
        team.evaluate("() => " + "typeof window.fbq") == "undefined"
        and team.evaluate("() => " + "typeof window.ttq") == "undefined"
    )
