"""gunicorn's settings from the environment, and its process hooks (production.ini).

production.ini serves with ``use = egg:gunicorn#main`` and names this module as gunicorn's
configuration (``config = python:orbitflow.gunicorn_hooks``). PasteDeploy cannot read the
environment, so what comes from it is set here, read once when gunicorn starts: the
address (``0.0.0.0:$PORT``, 3000 by default) and the number of worker processes
(``WEB_CONCURRENCY``, 1 by default). The INI's own ``[server:main]`` lines (worker class,
threads, time-outs, max requests) are applied after this module.

``pserve`` loads the app before gunicorn forks its workers, so each worker inherits the
parent's database pool: :func:`post_fork` drops it (the parent's sockets are left alone),
and :func:`worker_exit` runs the app's shutdown callbacks (the funnel recorder's last
flush, the outbox thread's stop) when a worker stops, whatever the reason. With metrics on,
:func:`child_exit` and :func:`pre_fork` keep the live gauges to the running workers.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from sqlalchemy.engine import Engine

from orbitflow.config import ConfigError, Settings, parse_bool
from orbitflow.lifecycle import shut_down
from orbitflow.logs import announce_listening
from orbitflow.metrics.multiproc import process_exited
from orbitflow.replica import Replica
from orbitflow.server import listen_address, worker_count
from orbitflow.shared import provided


def _refuse(error: ConfigError) -> None:
    print(f"orbitflow: configuration error: {error}", file=sys.stderr)
    raise SystemExit(2)


try:
    workers = worker_count()
    # Behind the reverse proxy its X-Forwarded-Proto is believed (https URLs); the client
    # address is read from X-Forwarded-For by the app itself (orbitflow.web.client_ip).
    trust_proxy = parse_bool("AUTH_TRUST_HOST", os.environ.get("AUTH_TRUST_HOST") or None)
except ConfigError as error:
    _refuse(error)
forwarded_allow_ips = "*" if trust_proxy else "127.0.0.1,::1"
bind = [listen_address("0.0.0.0", None, None)]


def _registry(worker: Any):
    app = worker.app.wsgi() if worker is not None else None
    return getattr(app, "registry", None)


def when_ready(server) -> None:
    """The start-up line the deployment guide calls healthy, once the sockets listen."""
    for listener in server.LISTENERS:
        host, port = listener.sock.getsockname()[:2]
        announce_listening(host, port)
    registry = getattr(server.app.wsgi(), "registry", None)
    settings = provided(registry, Settings) if registry is not None else None
    storage = getattr(settings, "ratelimit_storage", "memory://") or "memory://"
    if server.num_workers > 1 and storage.strip().lower().startswith("memory://"):
        server.log.warning(
            "%d workers count rate limits each on its own with orbitflow.ratelimit_storage = memory://; "
            "use redis:// or memcached:// to share them",
            server.num_workers,
        )


def pre_fork(server, worker) -> None:
    """The parent serves no request: whatever it recorded while loading the app (a pool
    checkout) must not count among the workers' live gauges."""
    process_exited(os.getpid())


def child_exit(server, worker) -> None:
    """A worker exited (in the parent): its live gauges (pool, buffers) stop counting."""
    process_exited(worker.pid)


def post_fork(server, worker) -> None:
    """Forget the parent's pooled connections: two processes must never share a socket."""
    registry = _registry(worker)
    engine = provided(registry, Engine) if registry is not None else None
    if engine is not None:
        engine.dispose(close=False)
    replica = provided(registry, Replica) if registry is not None else None
    if replica is not None:
        replica.engine.dispose(close=False)


def worker_exit(server, worker) -> None:
    """Flush what the worker holds (funnel events) and stop its outbox thread."""
    registry = _registry(worker)
    if registry is not None:
        shut_down(registry)
