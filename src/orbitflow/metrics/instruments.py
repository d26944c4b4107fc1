"""The metrics every process records. Importing this module starts multiprocess mode."""

from __future__ import annotations

from orbitflow.metrics.multiproc import prepare_directory

prepare_directory()

from prometheus_client import Counter, Gauge, Histogram  # noqa: E402  (after the directory is set)
from prometheus_client import values as _values  # noqa: E402

# Labels are the route's name and the status class (2xx, 4xx, ...): bounded, and never a
# company, user or path, which would make one series per tenant or per URL.
REQUESTS = Counter("http_requests_total", "HTTP requests answered.", ["route", "method", "status"])
DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from the request reaching the app to the answer leaving it.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ERRORS = Counter("http_request_errors_total", "Requests answered with a server error (5xx).", ["route"])
POOL_IN_USE = Gauge(
    "db_pool_connections_in_use", "Database connections checked out of the pools.", multiprocess_mode="livesum"
)
POOL_SIZE = Gauge(
    "db_pool_size", "Configured connections of the pools (without overflow).", multiprocess_mode="livesum"
)
FUNNEL_PROCESS_BACKLOG = Gauge(
    "funnel_recorder_backlog",
    "Quiz funnel events waiting in the processes' buffers to be written.",
    multiprocess_mode="livesum",
)


def multiprocess_mode() -> bool:
    return _values.ValueClass is not _values.MutexValue
