"""``GET /metrics``: the Prometheus text format, summed over every worker process."""

from __future__ import annotations

import hmac
import logging

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from orbitflow.config import get_settings
from orbitflow.metrics import metrics_of
from orbitflow.metrics.sources import outbox_state

log = logging.getLogger(__name__)


class ScrapeCollector:
    """Gauges computed now: the outbox's queue and whatever plugins added."""

    def __init__(self, request: Request):
        self.registry = request.registry

    def collect(self):
        try:
            pending, age = outbox_state(self.registry)
        except Exception as error:
            log.warning("metrics: outbox not readable: %s", error.__class__.__name__)
        else:
            yield GaugeMetricFamily("outbox_pending_deliveries", "Deliveries waiting to be sent.", value=pending)
            yield GaugeMetricFamily(
                "outbox_oldest_pending_age_seconds", "Age of the oldest delivery waiting to be sent.", value=age
            )
        for name, help_text, compute in metrics_of(self.registry).scrape_gauges:
            try:
                value = float(compute(self.registry))
            except Exception as error:
                log.warning("metrics: %s not readable: %s", name, error.__class__.__name__)
                continue
            yield GaugeMetricFamily(name, help_text, value=value)


def _authorised(request: Request) -> bool:
    token = get_settings(request.registry).metrics_token or ""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@view_config(
    route_name="metrics", request_method=("GET", "HEAD"), permission=NO_PERMISSION_REQUIRED, require_csrf=False
)
def metrics_view(request: Request) -> Response:
    if not _authorised(request):
        response = Response(
            json_body={"error": {"code": "unauthorized", "message": "A valid metrics token is required."}}
        )
        response.status_int = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    # A fresh registry per scrape: the multiprocess collector reads every process's files.
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(ScrapeCollector(request))
    response = Response(body=generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0], charset="utf-8")
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.cache_control = "no-store"
    return response
