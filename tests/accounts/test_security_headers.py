"""Security headers on every response, and a CSP that inline scripts cannot get around."""

from __future__ import annotations

import re

import pytest
import webtest

from orbitflow.app import make_app
from orbitflow.config import ConfigError


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


def _app_with_csp_extra(backend, value: str):
    return make_app(backend.ini(**{"orbitflow.csp_extra": value}), environ={}, engine=backend.engine)


def test_csp_extra_adds_sources_to_the_base_policy(backend, db):
    extra = (
        "img-src https://cdn.example.com; connect-src https://api.example.com wss://live.example.com; "
        "media-src https://video.example.com; report-uri /csp-reports"
    )
    client = webtest.TestApp(_app_with_csp_extra(backend, extra), extra_environ={"HTTP_HOST": "localhost"})
    page = client.get("/login")
    csp = _directives(page)
    _check_headers(page, hsts=False)
    assert csp["img-src"] == "img-src 'self' data: https: https://cdn.example.com"
    assert csp["connect-src"] == "connect-src 'self' https://api.example.com wss://live.example.com"
    # A directive the base lacks starts from default-src, so naming it keeps 'self'.
    assert csp["media-src"] == "media-src 'self' https://video.example.com"
    assert csp["report-uri"] == "report-uri /csp-reports"
    assert csp["default-src"] == "default-src 'self'"
    assert re.fullmatch(r"script-src 'self' 'nonce-[^']+'", csp["script-src"])
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert page.headers["Content-Security-Policy"].count("img-src") == 1
    _inline_scripts_carry_the_nonce(page)


def test_csp_extra_script_source_keeps_the_nonce(backend, db):
    client = webtest.TestApp(
        _app_with_csp_extra(backend, "script-src https://js.example.com 'sha256-abc123='"),
        extra_environ={"HTTP_HOST": "localhost"},
    )
    script_src = _directives(client.get("/login"))["script-src"]
    assert re.fullmatch(r"script-src 'self' 'nonce-[^']+' https://js\.example\.com 'sha256-abc123='", script_src)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("object-src https:", "may not change object-src"),
        ("img-src https://x.example; base-uri https://evil.example", "may not change base-uri"),
        ("frame-ancestors *", "may not change frame-ancestors"),
        ("script-src 'unsafe-inline'", "may not add 'unsafe-inline' to script-src"),
        ("script-src 'unsafe-eval'", "may not add 'unsafe-eval' to script-src"),
        ("script-src *", "may not add * to script-src"),
        ("script-src https:", "may not add https: to script-src"),
        ("script-src 'nonce-abc'", "a fixed nonce"),
        ("script-src-elem https://js.example.com", "may not set script-src-elem"),
        ("img-src 'none'", "'none' in img-src"),
        ("img-src https://a.example,https://b.example", "is not a CSP source expression"),
        ('img-src "https://a.example"', "is not a CSP source expression"),
        ("1mg-src https://a.example", "is not a CSP directive name"),
    ],
)
def test_csp_extra_that_would_weaken_the_policy_stops_start_up(backend, db, value, message):
    with pytest.raises(ConfigError) as refused:
        _app_with_csp_extra(backend, value)
    assert "orbitflow.csp_extra" in str(refused.value) and message in str(refused.value)
