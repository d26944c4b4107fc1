"""The waitress server behind ``pserve``: proxy headers trusted only with AUTH_TRUST_HOST."""

from __future__ import annotations

import threading
import urllib.request

import pytest
import waitress

from orbitflow.server import waitress_options


def client_seen_by_app(environ_vars: dict[str, str]) -> tuple[str, str]:
    """Serve a WSGI app with the options pserve would use; return (REMOTE_ADDR, scheme) it saw."""
    seen: dict[str, str] = {}

    def app(environ, start_response):
        seen["addr"] = environ.get("REMOTE_ADDR", "")
        seen["scheme"] = environ.get("wsgi.url_scheme", "")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    options = waitress_options(environ_vars)
    options["threads"] = 1
    server = waitress.create_server(app, host="127.0.0.1", port=0, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.effective_port}/",
            headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    finally:
        server.close()
    return seen["addr"], seen["scheme"]


def test_behind_a_trusted_proxy_the_client_address_and_scheme_reach_the_app():
    assert client_seen_by_app({"AUTH_TRUST_HOST": "true"}) == ("203.0.113.9", "https")


def test_without_trust_forwarded_headers_are_ignored():
    assert client_seen_by_app({}) == ("127.0.0.1", "http")


def test_a_bad_trust_value_is_refused():
    from orbitflow.config import ConfigError

    with pytest.raises(ConfigError, match="AUTH_TRUST_HOST"):
        waitress_options({"AUTH_TRUST_HOST": "maybe"})
