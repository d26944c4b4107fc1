"""Several waitress processes on one listening socket (``workers = N`` or WEB_CONCURRENCY).

One Python process runs one thread at a time, so a single waitress process keeps one
core busy at most. The parent process binds the sockets, forks the workers and looks
after them: a worker that dies is replaced, one that fails right after starting stops
the server (a broken set-up would otherwise restart for ever), and SIGTERM or SIGINT
stops every worker before the parent exits.

Each worker has its own database connections (the pool inherited from the parent is
dropped after the fork), its own quiz definition cache and submission writer, and its
own in-memory rate-limit counters: with several workers, point
``orbitflow.ratelimit_storage`` at Redis or Memcached so the limits are shared.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable

import waitress
from sqlalchemy.engine import Engine
from waitress.adjustments import Adjustments

from orbitflow.config import Settings
from orbitflow.shared import provided

log = logging.getLogger(__name__)

# A worker that exits this soon after it started is taken for a broken set-up.
STARTUP_SECONDS = 5.0


def bind_sockets(listen: str, backlog: int = 1024) -> list[socket.socket]:
    """Listening sockets for waitress's ``listen`` syntax ("host:port host2:port2")."""
    sockets = []
    for family, socktype, proto, address in Adjustments(listen=listen).listen:
        sock = socket.socket(family, socktype, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(backlog)
        sockets.append(sock)
    return sockets


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if sock.family == socket.AF_INET6 else f"http://{host}:{port}"


def after_fork(app) -> None:
    """Drop what a worker must not share with its parent: pooled database connections."""
    registry = getattr(app, "registry", None)
    engine = provided(registry, Engine) if registry is not None else None
    if engine is not None:
        # close=False: the sockets belong to the parent's copies; just forget them here.
        engine.dispose(close=False)


def serve_in_workers(
    app,
    listen: str,
    workers: int,
    options: dict,
    *,
    on_fork: Callable = after_fork,
    startup_seconds: float = STARTUP_SECONDS,
) -> None:
    """Serve ``app`` from ``workers`` processes until SIGTERM or SIGINT; raises
    SystemExit(1) when a worker fails within ``startup_seconds`` of starting."""
    sockets = bind_sockets(listen, int(options.get("backlog", 1024)))
    _warn_about_local_counters(app, workers)
    for sock in sockets:
        # Printed, as waitress prints its own "Serving on" line.
        print(f"Serving on {_url(sock)} with {workers} worker processes", flush=True)
    children: dict[int, float] = {}
    stopping = False

    def start_worker() -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            status = 1
            try:
                on_fork(app)
                waitress.serve(app, sockets=sockets, _quiet=True, **options)
                status = 0
            finally:
                os._exit(status)
        children[pid] = time.monotonic()

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        start_worker()
    failed = False
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        started = children.pop(pid, None)
        if started is None or stopping:
            continue
        code = os.waitstatus_to_exitcode(status)
        if time.monotonic() - started < startup_seconds:
            log.error("worker %d exited with %d right after it started; stopping the server", pid, code)
            failed = True
            stop(signal.SIGTERM, None)
            continue
        log.warning("worker %d exited with %d; starting another", pid, code)
        start_worker()
    for sock in sockets:
        sock.close()
    if failed:
        raise SystemExit(1)


def _warn_about_local_counters(app, workers: int) -> None:
    registry = getattr(app, "registry", None)
    settings = provided(registry, Settings) if registry is not None else None
    storage = getattr(settings, "ratelimit_storage", "memory://") if settings is not None else None
    if storage is not None and storage.strip().lower().startswith("memory://"):
        log.warning(
            "%d workers count rate limits each on its own with orbitflow.ratelimit_storage = memory://; "
            "use redis:// or memcached:// to share them",
            workers,
        )
