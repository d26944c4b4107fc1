"""Outbound deliveries: one transactional outbox for everything that leaves OrbitFlow.

A change and the deliveries it causes are written in one transaction
(:func:`enqueue`, usually from the ``domain_event_in_transaction`` hook); workers send
them after commit through the channel named on each row (``delivery_channels`` hook),
retry with back-off and keep every attempt. See docs/plugins.md, "Outbound deliveries".
"""

from __future__ import annotations

import logging
import threading

from pluggy import PluginManager
from pyramid.events import NewRequest
from sqlalchemy.orm import sessionmaker

from orbitflow.config import get_settings
from orbitflow.deliveries.backoff import MAX_ATTEMPTS, RETRY_DELAYS_SECONDS
from orbitflow.deliveries.channels import Channel, SendResult, http_outcome
from orbitflow.deliveries.models import Delivery, DeliveryAttempt
from orbitflow.deliveries.outbox import Outgoing, enqueue, enqueue_many, resend
from orbitflow.deliveries.worker import Worker
from orbitflow.lifecycle import on_shutdown
from orbitflow.shared import provide, shared

__all__ = [
    "MAX_ATTEMPTS",
    "RETRY_DELAYS_SECONDS",
    "Channel",
    "Delivery",
    "DeliveryAttempt",
    "Outgoing",
    "SendResult",
    "Worker",
    "enqueue",
    "enqueue_many",
    "http_outcome",
    "resend",
]

log = logging.getLogger(__name__)


class DeliveryChannels(dict[str, Channel]):
    """Channel name -> channel, collected from the plugins at start-up."""


def channels_of(registry) -> DeliveryChannels:
    return shared(registry, DeliveryChannels)


def collect_channels(registry) -> DeliveryChannels:
    from orbitflow.config import ConfigError
    from orbitflow.plugins import collect

    channels = DeliveryChannels()
    for channel in collect(shared(registry, PluginManager), "delivery_channels", registry=registry):
        if not isinstance(channel, Channel):
            raise ConfigError(f"delivery_channels returned {channel!r}, which is not a Channel")
        if channel.name in channels:
            raise ConfigError(f"two delivery channels are named {channel.name!r}")
        channels[channel.name] = channel
    return channels


def worker_for(registry) -> Worker:
    """A worker over the app's database and channels, with the INI's settings."""
    settings = get_settings(registry).deliveries
    return Worker(
        shared(registry, sessionmaker),
        lambda: channels_of(registry),
        batch_size=settings.batch_size,
        poll_seconds=settings.poll_seconds,
        claim_seconds=settings.claim_seconds,
    )


class WorkerThread:
    """The app process's own worker, started with the first request (so it runs in each
    forked server process, not in the parent that forked them)."""

    def __init__(self, registry):
        self.registry = registry
        self.lock = threading.Lock()
        self.worker: Worker | None = None
        self.thread: threading.Thread | None = None

    def ensure_started(self, _event=None) -> None:
        if self.thread is not None and self.thread.is_alive():
            return
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                return
            self.worker = worker_for(self.registry)
            self.thread = threading.Thread(target=self.worker.run, name="orbitflow-deliveries", daemon=True)
            self.thread.start()
            log.info("delivery worker thread started")

    def stop(self, timeout: float = 10.0) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.thread is not None:
            self.thread.join(timeout)


def includeme(config) -> None:
    registry = config.registry

    def register_channels() -> None:
        provide(registry, collect_channels(registry))

    # At commit, so plugins registered by later includes are asked too.
    config.action("orbitflow.deliveries.channels", register_channels, order=10)
    if get_settings(registry).deliveries.worker_thread:
        thread = WorkerThread(registry)
        provide(registry, thread)
        # At exit, and when a gunicorn worker stops (worker_exit).
        on_shutdown(registry, thread.stop)
        config.add_subscriber(thread.ensure_started, NewRequest)
