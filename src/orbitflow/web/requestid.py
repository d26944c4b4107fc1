"""The request id tween: one id per request, in every log line, the ``X-Request-ID``
response header, the error page, and the access log line written when the answer leaves
(with the request's metrics, in the same place).

A reverse proxy's own ``X-Request-ID`` (nginx's ``$request_id``) is kept when it looks like
an id, so one id follows the request through both logs; anything else gets a new one.
"""

from __future__ import annotations

import re
import time
import uuid

from pyramid.request import Request

from orbitflow.logs import access_log, current_request_id
from orbitflow.metrics import observe_request

HEADER = "X-Request-ID"
ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def request_id(request: Request) -> str:
    return request.environ["orbitflow.request_id"]


def _incoming_or_new(request: Request) -> str:
    incoming = request.headers.get(HEADER, "")
    return incoming if ACCEPTABLE.match(incoming) else uuid.uuid4().hex


def request_id_tween_factory(handler, registry):
    def tween(request: Request):
        rid = _incoming_or_new(request)
        request.environ["orbitflow.request_id"] = rid
        token = current_request_id.set(rid)
        started = time.perf_counter()
        status = 500
        try:
            response = handler(request)
            status = response.status_int
            response.headers[HEADER] = rid
            return response
        finally:
            elapsed = time.perf_counter() - started
            elapsed_ms = round(elapsed * 1000, 1)
            route = request.matched_route.name if request.matched_route is not None else None
            access_log.info(
                '%s "%s %s" %s %sms',
                request.client_ip, request.method, request.path_qs[:500], status, elapsed_ms,
                extra={"method": request.method, "path": request.path[:500], "status": status,
                       "duration_ms": elapsed_ms, "route": route, "client": request.client_ip},
            )  # fmt: skip
            observe_request(request, status, elapsed)
            current_request_id.reset(token)

    return tween
