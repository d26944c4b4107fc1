"""What a process runs when it stops: flushing buffers, mostly.

Start-up code registers a callback with :func:`on_shutdown`; :func:`shut_down` runs them
once, in the reverse order, from ``atexit`` and from the server's own exit hook
(gunicorn's ``worker_exit``, see :mod:`orbitflow.gunicorn_hooks`), whichever comes first.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Callable

from pyramid.registry import Registry

from orbitflow.shared import provide, provided

log = logging.getLogger(__name__)


class ShutdownCallbacks(list[Callable[[], None]]):
    """The callbacks of one application, in the order they were registered."""


def on_shutdown(registry: Registry, callback: Callable[[], None]) -> None:
    callbacks = provided(registry, ShutdownCallbacks)
    if callbacks is None:
        callbacks = provide(registry, ShutdownCallbacks())
        atexit.register(_run, callbacks)
    callbacks.append(callback)


def shut_down(registry: Registry) -> None:
    """Run the application's shutdown callbacks now (each at most once)."""
    callbacks = provided(registry, ShutdownCallbacks)
    if callbacks is not None:
        _run(callbacks)


def _run(callbacks: ShutdownCallbacks) -> None:
    while callbacks:
        callback = callbacks.pop()
        try:
            callback()
        except Exception:
            log.exception("a shutdown callback failed")
