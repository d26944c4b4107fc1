"""``POST /api/client-errors``: browser errors into the system log, rate limited per IP."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from pyramid.request import Request
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from orbitflow.syslog.services import write_entry
from orbitflow.web.errors import APIError

CLIENT_ERROR_LIMIT = parse("20/minute")


@view_config(route_name="client_errors", request_method="POST", renderer="json", permission=NO_PERMISSION_REQUIRED)
def client_error(request: Request):
    limiter: MovingWindowRateLimiter = request.registry["client_error_limiter"]
    if not limiter.hit(CLIENT_ERROR_LIMIT, "client-errors", request.client_ip):
        reset_at = limiter.get_window_stats(CLIENT_ERROR_LIMIT, "client-errors", request.client_ip).reset_time
        error = APIError(429, "Too many error reports; try again later.")
        error.headers["Retry-After"] = str(max(1, math.ceil(reset_at - time.time())))
        raise error
    try:
        body = request.json_body
    except ValueError:
        raise APIError(400, "Send a JSON object.") from None
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        raise APIError(422, "A message is required.", {"message": "required"})
    identity = request.identity
    error_id = write_entry(
        request.registry,
        level="ERROR",
        source="CLIENT",
        endpoint=str(body.get("page", ""))[:500],
        message=f"{body['message'][:2000]} ({str(body.get('source', ''))[:300]}:{body.get('line', 0)})",
        company_id=identity.company_id if identity else None,
        user_id=identity.user_id if identity else None,
    )
    request.response.status_int = 201
    return {"error_id": error_id}


def includeme(config) -> None:
    settings = config.registry["orbitflow.settings"]
    config.registry["client_error_limiter"] = MovingWindowRateLimiter(storage_from_string(settings.ratelimit_storage))
    config.add_route("client_errors", "/api/client-errors")
    config.scan(__name__)
