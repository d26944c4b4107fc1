"""A published quiz page answered from the process's cache: rendered once per definition,
no database round trip on a hit, each visitor's own token, nonce and tracking fields, and
an edit made elsewhere (the quiz, unpublished, the pixel settings) seen within
``quiz.cache_check_seconds``."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import webtest
from quizkit import public_path, token_of
from sqlalchemy import update

from orbitflow.app import make_app
from orbitflow.crypto import encryptor
from orbitflow.lifecycle import shut_down
from orbitflow.models.meta import utcnow
from orbitflow.tenants.models import Company
from orbitflow_plugins.pixels import settings as pixels
from orbitflow_plugins.pixels.models import PixelSettings
from orbitflow_plugins.quiz import services
from orbitflow_plugins.quiz.models import Quiz
from statements import Statements

CHECK_SECONDS = 1.0


def settled(db, company, quiz) -> None:
    """The quiz, its company and their pixel settings as if last changed an hour ago (rows
    changed in the last two seconds are never cached)."""
    an_hour_ago = utcnow() - timedelta(hours=1)
    db.execute(update(Company).where(Company.id == company.id).values(updated_at=an_hour_ago))
    db.execute(update(Quiz).where(Quiz.id == quiz.id).values(updated_at=an_hour_ago))
    db.execute(update(PixelSettings).where(PixelSettings.company_id == company.id).values(updated_at=an_hour_ago))
    db.commit()


PIXEL_ID = "123456789012345"


def test_a_cached_quiz_page_sends_no_sql(backend, testapp, db, company, quiz):
    """With every bundled plugin and a pixel configured: the pixel settings are kept with
    the definition, and the funnel event goes to the recorder."""
    pixels.update_settings(db, company.id, {"facebook_pixel_id": PIXEL_ID}, encryptor(testapp.app.registry))
    settled(db, company, quiz)
    path = public_path(company, quiz)
    for _ in range(2):  # warm-up: the change check, then the quiz read and its page rendered
        testapp.get(path, status=200)
    with Statements(backend.engine) as statements:
        page = testapp.get(path, status=200)
    assert statements.sent == []
    assert quiz.title in page.text and 'name="token"' in page.text
    assert f'data-meta-pixel="{PIXEL_ID}"' in page.text
    assert "https://connect.facebook.net" in page.headers["Content-Security-Policy"]
    # The control: a page that is not cached reads the database.
    with Statements(backend.engine) as statements:
        testapp.get(path + "-other", status=404)
    assert statements.sent


def nonce_of(page) -> str:
    return re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)


def test_each_visitor_gets_a_token_and_nonce_of_their_own(testapp, another_client, db, company, quiz):
    settled(db, company, quiz)
    path = public_path(company, quiz)
    pages = [testapp.get(path, status=200), another_client().get(path, status=200), testapp.get(path, status=200)]
    tokens, nonces = [token_of(page) for page in pages], [nonce_of(page) for page in pages]
    assert len(set(tokens)) == 3 and len(set(nonces)) == 3
    for page, token, nonce in zip(pages, tokens, nonces, strict=True):
        # Every script carries this response's nonce, and the token is the form's and the script's.
        scripts = re.findall(r"<script [^>]*>", page.text)
        assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts)
        assert f'data-token="{token}"' in page.text
        assert page.headers["Cache-Control"] == "no-store"
        assert page.content_type == "text/html" and page.charset.lower() == "utf-8"

    # Apart from those, the page is the same for everyone.
    def rest(page, token, nonce) -> str:
        return page.text.replace(token, "TOKEN").replace(nonce, "NONCE")

    assert len({rest(*visit) for visit in zip(pages, tokens, nonces, strict=True)}) == 1


def test_tracking_fields_are_the_visitors_own_and_escaped(testapp, db, company, quiz):
    settled(db, company, quiz)
    path = public_path(company, quiz)
    testapp.get(path, status=200)  # the page rendered without tracking
    page = testapp.get(path, {"utm_source": 'fb"><script>x', "fbclid": "abc"}, status=200)
    assert '<input type="hidden" name="utm_source" value="fb&#34;&gt;&lt;script&gt;x">' in page.text
    assert '<input type="hidden" name="fbclid" value="abc">' in page.text
    assert "utm_source" not in testapp.get(path, status=200).text


def test_the_page_is_the_one_the_template_renders_in_full(testapp, db, company, quiz):
    """The pieces joined give what a full render gives (the page with errors is one)."""
    settled(db, company, quiz)
    path = public_path(company, quiz)
    joined = testapp.get(path, {"utm_campaign": "spring"}, status=200)
    full = testapp.post(path, {"token": "not-a-token", "utm_campaign": "spring"}, status=400)
    full_text = re.sub(r'<div class="quiz-alert" role="alert" id="quiz-form-error">[^<]*</div>', "", full.text)

    def plain(page, text: str) -> str:
        return text.replace(token_of(page), "TOKEN").replace(nonce_of(page), "NONCE")

    assert plain(joined, joined.text) == plain(full, full_text)


@pytest.fixture
def two_processes(backend):
    """Two apps with caches of their own, as two server processes (or replicas) have."""
    settings = backend.ini(**{"quiz.cache_check_seconds": str(CHECK_SECONDS)})
    apps = [make_app(settings, environ={}, engine=backend.engine) for _ in range(2)]
    yield [webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.7"}) for app in apps]
    for app in apps:
        shut_down(app.registry)


def seen_within(client, path: str, check, seconds: float) -> float:
    started = time.monotonic()
    while True:
        response = client.get(path, status="*")
        if check(response):
            return time.monotonic() - started
        assert time.monotonic() - started < seconds, response.text[:300]
        time.sleep(0.05)


def test_an_edit_is_seen_by_another_process_within_the_check_interval(two_processes, db, company, quiz):
    editor, other = two_processes
    settled(db, company, quiz)
    path = public_path(company, quiz)
    for client in two_processes:
        for _ in range(2):
            assert quiz.title in client.get(path, status=200).text
    # The other process edits the quiz (its title), then unpublishes it.
    services.update_settings(db, company, db.get(Quiz, quiz.id), {"title": "Find your plan, 2nd edition"}, partial=True)
    db.commit()
    bound = CHECK_SECONDS + 1.0  # the interval, and room for a slow machine
    assert seen_within(other, path, lambda r: "2nd edition" in r.text, bound) <= bound
    services.unpublish(db, db.get(Quiz, quiz.id))
    db.commit()
    assert seen_within(other, path, lambda r: r.status_int == 404, bound) <= bound
    assert seen_within(editor, path, lambda r: r.status_int == 404, bound) <= bound


def test_pixel_settings_saved_elsewhere_are_seen_within_the_check_interval(two_processes, db, company, quiz):
    _, other = two_processes
    settled(db, company, quiz)
    path = public_path(company, quiz)
    for _ in range(2):
        assert "data-meta-pixel" not in other.get(path, status=200).text
    registry = other.app.registry
    pixels.update_settings(db, company.id, {"facebook_pixel_id": PIXEL_ID}, encryptor(registry))
    db.commit()
    bound = CHECK_SECONDS + 1.0
    assert seen_within(other, path, lambda r: f'data-meta-pixel="{PIXEL_ID}"' in r.text, bound) <= bound
    # The quiz switched off for the pixels, then the pixel removed: each seen in time.
    pixels.update_settings(db, company.id, {"disabled_quiz_ids": [quiz.id]}, encryptor(registry))
    db.commit()
    assert seen_within(other, path, lambda r: "data-meta-pixel" not in r.text, bound) <= bound
    pixels.update_settings(db, company.id, {"disabled_quiz_ids": [], "facebook_pixel_id": None}, encryptor(registry))
    db.commit()
    page = other.get(path, status=200)
    assert "data-meta-pixel" not in page.text and "connect.facebook.net" not in page.headers["Content-Security-Policy"]


def test_two_edits_within_one_second_are_both_seen(two_processes, db, company, quiz):
    """MariaDB keeps DATETIME to the second: the second edit must not hide behind the first."""
    _, other = two_processes
    settled(db, company, quiz)
    path = public_path(company, quiz)
    for _ in range(2):
        other.get(path, status=200)
    registry = other.app.registry
    pixels.update_settings(db, company.id, {"facebook_pixel_id": PIXEL_ID}, encryptor(registry))
    db.commit()
    bound = CHECK_SECONDS + 1.0
    seen_within(other, path, lambda r: PIXEL_ID in r.text, bound)
    second = "543210987654321"
    pixels.update_settings(db, company.id, {"facebook_pixel_id": second}, encryptor(registry))
    db.commit()
    assert seen_within(other, path, lambda r: second in r.text, 2 * bound + 2.0) <= 2 * bound + 2.0
