"""Absolute URLs come from AUTH_URL, and a request for another host name is refused (400):
``Host: evil.com`` must never turn into a redirect or a link to evil.com."""

from __future__ import annotations

import http.client

import pytest
import waitress
import webtest

from orbitflow.app import make_app
from orbitflow.server import waitress_options
from support import LiveServer

PUBLIC = "https://crm.example.com"


def client(app, host: str, **environ: str) -> webtest.TestApp:
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": host, "REMOTE_ADDR": "10.0.0.9", **environ})


@pytest.fixture(scope="module")
def public_app(backend):
    return make_app(backend.ini(**{"orbitflow.auth_url": PUBLIC}), environ={}, engine=backend.engine)


@pytest.fixture(scope="module")
def proxied_app(backend):
    settings = backend.ini(**{"orbitflow.auth_url": PUBLIC, "orbitflow.trust_host": "true"})
    return make_app(settings, environ={}, engine=backend.engine)


@pytest.mark.parametrize(
    "host",
    ["evil.com", "evil.com:443", "crm.example.com.evil.com", "crm.example.com@evil.com", "[::1", "", "localhost"],
)
def test_another_host_name_is_refused_on_pages_and_the_api(public_app, db, host):
    page = client(public_app, host).get("/leads", status=400)
    assert "evil.com" not in page.text and "Location" not in page.headers
    assert f"answers at {PUBLIC} only" in page.text
    assert f'href="{PUBLIC}/static/css/app.css' in page.text  # even the refusal links to AUTH_URL
    api = client(public_app, host).get("/api/v1/me", status=400)
    assert api.json["error"]["code"] == "bad_request"


def test_the_tests_own_host_redirects_to_auth_url(testapp):
    # The suite's AUTH_URL is http://localhost.
    assert testapp.get("/leads", status=302).location.startswith("http://localhost/login")
    testapp.get("/leads", extra_environ={"HTTP_HOST": "evil.com"}, status=400)


@pytest.mark.parametrize("host", ["crm.example.com", "CRM.example.com", "crm.example.com:8443", "crm.example.com."])
def test_auth_urls_host_is_served_and_every_url_is_built_from_auth_url(public_app, db, host):
    response = client(public_app, host).get("/leads", status=302)
    assert response.location.startswith(f"{PUBLIC}/login")
    page = client(public_app, host).get("/login", status=200)
    assert f'href="{PUBLIC}/static/css/app.css' in page.text
    assert "Strict-Transport-Security" in page.headers  # AUTH_URL is https


@pytest.mark.parametrize("host", ["10.0.3.7:3000", "evil.com", "app"])
def test_the_health_check_answers_whatever_the_host(public_app, db, host):
    assert client(public_app, host).get("/api/health").json["status"] == "ok"


def test_behind_a_trusted_proxy_the_forwarded_host_is_checked(proxied_app, db):
    forwarded = {"HTTP_X_FORWARDED_HOST": "crm.example.com", "HTTP_X_FORWARDED_PROTO": "https"}
    response = client(proxied_app, "app:3000", **forwarded).get("/leads", status=302)
    assert response.location.startswith(f"{PUBLIC}/login")
    client(proxied_app, "app:3000", HTTP_X_FORWARDED_HOST="evil.com").get("/leads", status=400)
    # A value the client sent comes before the proxy's own; the proxy's (last) one counts.
    client(proxied_app, "app:3000", HTTP_X_FORWARDED_HOST="evil.com, crm.example.com").get("/leads", status=302)
    client(proxied_app, "app:3000", HTTP_X_FORWARDED_HOST="crm.example.com, evil.com").get("/leads", status=400)


def test_without_trust_a_forwarded_host_is_ignored(public_app, db):
    client(public_app, "evil.com", HTTP_X_FORWARDED_HOST="crm.example.com").get("/leads", status=400)
    served = client(public_app, "crm.example.com", HTTP_X_FORWARDED_HOST="evil.com").get("/leads", status=302)
    assert served.location.startswith(PUBLIC)


def _get_over_http(port: int, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_through_waitress_behind_a_proxy_with_auth_trust_host(proxied_app, db):
    """The server as production.ini runs it with AUTH_TRUST_HOST=true, over real HTTP."""
    options = {**waitress_options({"AUTH_TRUST_HOST": "true"}), "threads": 2}
    server = waitress.create_server(proxied_app, host="127.0.0.1", port=0, **options)
    server_thread = LiveServer.thread_for(server)
    try:
        proxy = {"X-Forwarded-Host": "crm.example.com", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
        ok = _get_over_http(server.effective_port, "/leads", {**proxy, "Host": "app:3000"})
        assert ok.status == 302 and ok.getheader("Location").startswith(f"{PUBLIC}/login")
        bad = _get_over_http(server.effective_port, "/leads", {**proxy, "X-Forwarded-Host": "evil.com"})
        assert bad.status == 400 and bad.getheader("Location") is None
        direct = _get_over_http(server.effective_port, "/leads", {"Host": "evil.com"})
        assert direct.status == 400
        assert _get_over_http(server.effective_port, "/api/health", {"Host": "10.0.3.7"}).status == 200
    finally:
        server.close()
        server_thread.join(5)


def test_a_loopback_auth_url_accepts_every_loopback_name(backend, db):
    app = make_app(backend.ini(**{"orbitflow.auth_url": "http://localhost:6543"}), environ={}, engine=backend.engine)
    for host in ("localhost:6543", "127.0.0.1:6543", "[::1]:6543"):
        assert client(app, host).get("/leads", status=302).location.startswith("http://localhost:6543/login")
    client(app, "192.168.1.20:6543").get("/leads", status=400)


def test_without_auth_url_the_request_host_is_used(backend, db):
    settings = {key: value for key, value in backend.ini().items() if key != "orbitflow.auth_url"}
    app = make_app(settings, environ={}, engine=backend.engine)
    assert client(app, "dev.internal:6543").get("/leads", status=302).location.startswith("http://dev.internal:6543/")
