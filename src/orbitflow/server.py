"""The ``egg:orbitflow#main`` server of development.ini: one waitress process with
OrbitFlow's defaults; and the reading of ``PORT`` and ``WEB_CONCURRENCY`` that
production.ini's gunicorn shares (:mod:`orbitflow.gunicorn_hooks`).

Listens on ``listen`` when the INI gives it, else on ``host`` and the ``PORT``
environment variable (3000 by default, as in the original deployment guide). A server
factory rather than a runner, so that a bad ``PORT`` is refused before the app loads and
``pserve`` exits non-zero (pserve swallows errors raised while a runner serves).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

import waitress

from orbitflow.config import ConfigError, parse_bool, parse_port, parse_web_concurrency
from orbitflow.logs import announce_listening

# Waitress accepts 1 GiB bodies by default; the app refuses more than its own limit anyway.
MAX_BODY_BYTES = 16 * 1024 * 1024


def listen_address(host: str, port: str | None, listen: str | None) -> str:
    if listen is not None:
        return listen
    try:
        number = parse_port(port or os.environ.get("PORT"))
    except ConfigError as error:
        print(f"orbitflow: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    return f"{host}:{number}"


def waitress_options(environ: Mapping[str, str] | None = None, **kw) -> dict:
    env = os.environ if environ is None else environ
    options = {
        "max_request_body_size": MAX_BODY_BYTES,
        "threads": 16,
        "ident": "OrbitFlow",
        "clear_untrusted_proxy_headers": True,
    }
    if parse_bool("AUTH_TRUST_HOST", env.get("AUTH_TRUST_HOST") or None):
        # Behind the reverse proxy: keep its X-Forwarded-* headers (waitress would otherwise
        # drop them as untrusted) so the client address and https scheme reach the app.
        options.update(
            trusted_proxy="*",
            trusted_proxy_count=1,
            trusted_proxy_headers="x-forwarded-for x-forwarded-proto x-forwarded-host",
        )
    options.update(kw)
    return options


def worker_count(environ: Mapping[str, str] | None = None) -> int:
    """``WEB_CONCURRENCY``, else 1."""
    env = os.environ if environ is None else environ
    return parse_web_concurrency(env.get("WEB_CONCURRENCY"))


def server_factory(
    global_conf,
    host: str = "0.0.0.0",
    port: str | None = None,
    listen: str | None = None,
    **kw,
) -> Callable:
    address = listen_address(host, port, listen)
    try:
        options = waitress_options(**kw)
    except ConfigError as error:
        print(f"orbitflow: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None

    def serve_app(app) -> None:
        host, _, bound_port = address.rpartition(":")
        announce_listening(host, bound_port)
        waitress.serve(app, listen=address, **options)

    return serve_app


def serve(app, global_conf, host: str = "0.0.0.0", port: str | None = None, listen: str | None = None, **kw):
    """The same as a PasteDeploy server runner."""
    server_factory(global_conf, host=host, port=port, listen=listen, **kw)(app)
