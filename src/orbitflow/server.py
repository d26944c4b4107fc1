"""The ``egg:orbitflow#main`` server: waitress with OrbitFlow's defaults.

Listens on ``listen`` when the INI gives it, else on ``host`` and the ``PORT``
environment variable (3000 by default, as in the original deployment guide). A server
factory rather than a runner, so that a bad ``PORT`` is refused before the app loads and
``pserve`` exits non-zero (pserve swallows errors raised while a runner serves).

``workers`` (INI) or ``WEB_CONCURRENCY`` (environment) runs that many waitress processes
on one listening socket (:mod:`orbitflow.workers`), so a server with several cores uses
them all; the default is one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

import waitress

from orbitflow.config import ConfigError, parse_bool
from orbitflow.logs import announce_listening

MAX_WORKERS = 64

DEFAULT_PORT = "3000"
# Waitress accepts 1 GiB bodies by default; the app refuses more than its own limit anyway.
MAX_BODY_BYTES = 16 * 1024 * 1024


def listen_address(host: str, port: str | None, listen: str | None) -> str:
    if listen is not None:
        return listen
    port = port or os.environ.get("PORT") or DEFAULT_PORT
    if not port.isdigit() or not 0 < int(port) < 65536:
        print(f"orbitflow: configuration error: PORT must be a number from 1 to 65535, got {port!r}", file=sys.stderr)
        raise SystemExit(2)
    return f"{host}:{port}"


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


def worker_count(configured: str | None, environ: Mapping[str, str] | None = None) -> int:
    """``workers`` from the INI, else ``WEB_CONCURRENCY``, else 1."""
    env = os.environ if environ is None else environ
    raw = configured if configured not in (None, "") else env.get("WEB_CONCURRENCY") or "1"
    name = "workers" if configured not in (None, "") else "WEB_CONCURRENCY"
    if not str(raw).strip().isdigit() or not 1 <= int(raw) <= MAX_WORKERS:
        raise ConfigError(f"{name} must be a number of processes from 1 to {MAX_WORKERS}, got {raw!r}")
    return int(raw)


def server_factory(
    global_conf,
    host: str = "0.0.0.0",
    port: str | None = None,
    listen: str | None = None,
    workers: str | None = None,
    **kw,
) -> Callable:
    address = listen_address(host, port, listen)
    try:
        options = waitress_options(**kw)
        processes = worker_count(workers)
    except ConfigError as error:
        print(f"orbitflow: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None

    def serve_app(app) -> None:
        host, _, bound_port = address.rpartition(":")
        announce_listening(host, bound_port)
        if processes == 1:
            waitress.serve(app, listen=address, **options)
            return
        from orbitflow.workers import serve_in_workers

        serve_in_workers(app, address, processes, options)

    return serve_app


def serve(app, global_conf, host: str = "0.0.0.0", port: str | None = None, listen: str | None = None, **kw):
    """The same as a PasteDeploy server runner."""
    server_factory(global_conf, host=host, port=port, listen=listen, **kw)(app)
