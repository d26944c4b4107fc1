"""Security headers on every response, and a CSP that inline scripts cannot get around."""

from __future__ import annotations

import re

import pytest
import webtest

from orbitflow.app import make_app


def _directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


def _check_headers(response, *, hsts: bool) -> None:
    csp = _directives(response)
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["object-src"] == "object-src 'none'"
    assert csp["base-uri"] == "base-uri 'none'"
    assert "frame-ancestors" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    if csp["frame-ancestors"] == "frame-ancestors 'none'":
        assert response.headers["X-Frame-Options"] == "DENY"
    assert ("Strict-Transport-Security" in response.headers) is hsts


def _inline_scripts_carry_the_nonce(response) -> None:
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    scripts = re.findall(r"<script\b([^>]*)>", response.text)
    assert scripts, "every page loads the product's script"
    for attributes in scripts:
        assert f'nonce="{nonce}"' in attributes, attributes
    assert "onclick=" not in response.text and "javascript:" not in response.text


def test_headers_on_pages_errors_api_and_static_files(testapp, login_as, team):
    responses = [
        testapp.get("/login"),
        testapp.get("/no-such-page", status=404),
        testapp.get("/api/v1/me", status=401),
        testapp.get("/api/health", status="*"),
        testapp.post("/login", {}, status=400),  # refused for its CSRF token
        testapp.get("/static/js/app.js"),
    ]
    login_as(team["OWNER"])
    responses += [
        testapp.get(url) for url in ("/dashboard", "/settings/profile", "/settings/users", "/settings/api-keys")
    ]
    responses.append(testapp.get("/settings/users/new"))
    for response in responses:
        _check_headers(response, hsts=False)
    for response in responses[-5:]:
        _inline_scripts_carry_the_nonce(response)


def test_each_response_gets_a_new_nonce(testapp):
    first, second = testapp.get("/login"), testapp.get("/login")
    assert _directives(first)["script-src"] != _directives(second)["script-src"]


@pytest.fixture
def https_client(backend, db):
    app = make_app(backend.ini(**{"orbitflow.auth_url": "https://crm.example.com"}), environ={}, engine=backend.engine)
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "crm.example.com", "wsgi.url_scheme": "https"})


def test_hsts_and_secure_cookies_when_served_over_https(https_client):
    page = https_client.get("/login")
    _check_headers(page, hsts=True)
    assert "max-age=" in page.headers["Strict-Transport-Security"]
    csrf_cookie = next(value for name, value in page.headerlist if name == "Set-Cookie" and "orbitflow_csrf" in value)
    assert "secure" in csrf_cookie.lower()


def test_hsts_when_the_request_itself_is_https(testapp):
    _check_headers(testapp.get("/login", extra_environ={"wsgi.url_scheme": "https"}), hsts=True)
