"""``POST /api/client-errors``: browser errors into the system log, rate limited per IP."""

from __future__ import annotations

from limits import parse
from pyramid.request import Request
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from orbitflow.ratelimit import rate_limiter
from orbitflow.syslog.services import write_entry
from orbitflow.web.decoding import allow_lone_surrogates
from orbitflow.web.errors import APIError

CLIENT_ERROR_LIMIT = parse("20/minute")


@view_config(route_name="client_errors", request_method="POST", renderer="json", permission=NO_PERMISSION_REQUIRED)
def client_error(request: Request):
    limiter = rate_limiter(request.registry)
    verdict = limiter.hit([CLIENT_ERROR_LIMIT], "client-errors", limiter.key(request.client_ip))
    if not verdict.allowed:
        error = APIError(429, "Too many error reports; try again later.")
        error.headers["Retry-After"] = str(verdict.retry_after)
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
        # write_entry bounds every field, however long the report.
        endpoint=str(body.get("page", "")),
        message=f"{body['message']} ({body.get('source', '')}:{body.get('line', 0)})",
        company_id=identity.company_id if identity else None,
        user_id=identity.user_id if identity else None,
    )
    request.response.status_int = 201
    return {"error_id": error_id}


def includeme(config) -> None:
    config.add_route("client_errors", "/api/client-errors")
    allow_lone_surrogates(config, "client_errors")
    config.scan(__name__)
