"""Prometheus metrics: ``GET /metrics`` with ``Authorization: Bearer $METRICS_TOKEN``.

Off unless METRICS_TOKEN is set (then ``/metrics`` is an unknown page, 404). Every worker
process writes its values into PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess
mode), and a scrape, answered by any one of them, sums them all. Values that are the same
for every process (the outbox) are computed at the scrape instead.
"""

from __future__ import annotations

from collections.abc import Callable

from pyramid.registry import Registry
from pyramid.request import Request

from orbitflow.config import ConfigError, get_settings
from orbitflow.shared import provide, provided

# (name, help, function of the registry returning a number), evaluated at each scrape.
ScrapeGauge = tuple[str, str, Callable[[Registry], float]]


class Metrics:
    """What the app records; provided only when metrics are on."""

    def __init__(self) -> None:
        from orbitflow.metrics import instruments

        if not instruments.multiprocess_mode():
            raise ConfigError(
                "METRICS_TOKEN: prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set; "
                "set PROMETHEUS_MULTIPROC_DIR in the environment of the server"
            )
        self.instruments = instruments
        self.scrape_gauges: list[ScrapeGauge] = []

    def observe_request(self, route: str | None, method: str, status: int, seconds: float) -> None:
        labels = (route or "unmatched", method if method in KNOWN_METHODS else "OTHER", f"{status // 100}xx")
        self.instruments.REQUESTS.labels(*labels).inc()
        self.instruments.DURATION.labels(*labels).observe(seconds)
        if status >= 500:
            self.instruments.ERRORS.labels(labels[0]).inc()


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def metrics_of(registry: Registry) -> Metrics | None:
    return provided(registry, Metrics)


def add_scrape_gauge(registry: Registry, name: str, help_text: str, compute: Callable[[Registry], float]) -> None:
    """A gauge computed when Prometheus scrapes (plugins add theirs; no-op when metrics are off)."""
    metrics = metrics_of(registry)
    if metrics is not None:
        metrics.scrape_gauges.append((name, help_text, compute))


def observe_request(request: Request, status: int, seconds: float) -> None:
    """Called once per request by the request id tween, beside the access log line."""
    metrics = metrics_of(request.registry)
    if metrics is not None:
        route = request.matched_route.name if request.matched_route is not None else None
        metrics.observe_request(route, request.method, status, seconds)


def includeme(config) -> None:
    settings = get_settings(config.registry)
    if not settings.metrics_token:
        return
    metrics = provide(config.registry, Metrics())
    from orbitflow.metrics.sources import watch_pool

    watch_pool(config.registry, metrics)
    config.add_route("metrics", "/metrics")
    config.scan("orbitflow.metrics.views")
