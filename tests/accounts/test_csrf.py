"""CSRF on a form and on the API: a wrong token, another person's token and a foreign
Origin are refused with 400 (the page's message, or ``csrf_failed`` in JSON) and nothing is
stored; the same request from the app's own page goes through.

The app here answers at https://localhost, as in production: Pyramid checks the Origin
(or Referer) of HTTPS requests only."""

from __future__ import annotations

import pytest
import webtest
from sqlalchemy import func, select

from orbitflow.app import make_app
from orbitflow.leads.models import Lead
from orbitflow.ratelimit import rate_limiter
from orbitflow.security import CSRF_MESSAGE
from support import csrf_token

HTTPS = {"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}


@pytest.fixture(scope="session")
def https_app(backend, per_backend):
    return per_backend.app(
        "https_app",
        backend.name,
        lambda: make_app(backend.ini(**{"orbitflow.auth_url": "https://localhost"}), environ={}, engine=backend.engine),
    )


@pytest.fixture
def browser_of(https_app, db):
    """A new browser on the HTTPS app."""
    rate_limiter(https_app.registry).reset()
    return lambda address="10.0.0.1": webtest.TestApp(https_app, extra_environ={**HTTPS, "REMOTE_ADDR": address})


def _leads(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Lead))


def _send(client, kind: str, token: str, environ: dict[str, str] | None = None, status: int = 400):
    # From the app's own origin unless the test gives its own headers, so a refusal is the
    # token's (an HTTPS request without Origin or Referer is refused before the token is read).
    environ = {"HTTP_ORIGIN": "https://localhost"} if environ is None else environ
    if kind == "form":
        return client.post(
            "/leads/new", {"csrf_token": token, "name": "Forged lead"}, extra_environ=environ, status=status
        )
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    return client.post_json(
        "/api/v1/leads", {"name": "Forged lead"}, headers=headers, extra_environ=environ, status=status
    )


def _is_refusal(response, kind: str) -> bool:
    if kind == "form":
        return CSRF_MESSAGE.replace("'", "&#39;") in response.text
    return response.json["error"]["code"] == "csrf_failed"


@pytest.fixture
def owner_browser(browser_of, login_as, make_company, make_user):
    company = make_company(name="Csrf Co")
    return login_as(make_user(company, "OWNER", username="olivia"), browser_of()), company


@pytest.mark.parametrize("kind", ["form", "api"])
def test_a_wrong_token_is_refused(owner_browser, db, unchanged, kind):
    browser, _ = owner_browser
    real = csrf_token(browser)
    with unchanged():
        for token in ("", "0" * len(real), real[:-1] + ("a" if real[-1] != "a" else "b")):
            assert _is_refusal(_send(browser, kind, token), kind)
    assert _leads(db) == 0


@pytest.mark.parametrize("kind", ["form", "api"])
def test_another_users_token_is_refused(owner_browser, db, unchanged, browser_of, login_as, make_user, kind):
    browser, company = owner_browser
    colleague = login_as(make_user(company, "MANAGER", username="maya"), browser_of("10.0.0.2"))
    theirs = csrf_token(colleague)
    assert theirs != csrf_token(browser)
    with unchanged():
        assert _is_refusal(_send(browser, kind, theirs), kind)
    assert _leads(db) == 0


@pytest.mark.parametrize("kind", ["form", "api"])
def test_a_foreign_origin_is_refused_with_the_right_token(owner_browser, db, unchanged, kind):
    browser, _ = owner_browser
    token = csrf_token(browser)
    with unchanged():
        for origin in ("https://evil.example", "http://localhost", "null"):
            refused = _send(browser, kind, token, {"HTTP_ORIGIN": origin})
            assert _is_refusal(refused, kind), origin
        # No Origin and a Referer from elsewhere is refused too.
        refused = _send(browser, kind, token, {"HTTP_REFERER": "https://evil.example/page"})
        assert _is_refusal(refused, kind)
    assert _leads(db) == 0
    # From the app's own page it goes through.
    _send(browser, kind, token, {"HTTP_ORIGIN": "https://localhost"}, status=303 if kind == "form" else 201)
    assert _leads(db) == 1
