"""Error responses: the product's pages for browsers, the JSON error shape under /api/."""

from __future__ import annotations

import logging

from pyramid.exceptions import PredicateMismatch
from pyramid.httpexceptions import HTTPException, HTTPFound
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config
from pyramid_retry import is_error_retryable, is_last_attempt, mark_error_retryable
from webob.util import status_reasons

from orbitflow.db import is_database_unavailable, tm_activate_hook
from orbitflow.syslog.services import record_exception_after_request
from orbitflow.web.methods import method_not_allowed

log = logging.getLogger(__name__)

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}


class APIError(HTTPException):
    """Raise from a view to answer ``{"error": {"code", "message", "fields"?}}``."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None, code: str | None = None):
        # HTTPException builds the status line from these two; set them first. (``status``
        # itself is webob's status line string, so the number is kept in ``code``.)
        self.code = status
        self.title = status_reasons.get(status, "Error")
        super().__init__(detail=message)
        self.error_code = code or ERROR_CODES.get(status, "error")
        self.fields = fields


INVALID_FIELDS_MESSAGE = "Check the highlighted fields."


def invalid_fields(fields: dict[str, str]) -> APIError:
    """The API's answer to a body whose fields a service refused: 422, a message per field."""
    return APIError(422, INVALID_FIELDS_MESSAGE, fields)


def json_error(request: Request, status: int, message: str, fields=None, code: str | None = None):
    body = {"error": {"code": code or ERROR_CODES.get(status, "error"), "message": message}}
    if fields:
        body["error"]["fields"] = fields
    response = request.response
    response.status_int = status
    response.json_body = body
    response.content_type = "application/json"
    return response


def html_error(request: Request, status: int, title: str, message: str, error_id: str | None = None):
    # Refused by a tween before the router ran: the page's permission checks need a context.
    request.__dict__.setdefault("context", None)
    values = {"status": status, "title": title, "message": message, "error_id": error_id}
    if not tm_activate_hook(request):
        # No transaction (static files): the page cannot read the signed-in user.
        values.update(_BARE_LAYOUT)
    response = render_to_response("error.jinja2", values, request=request)
    response.status_int = status
    return response


# The layout without what needs the database (user, company, navigation): used when the
# full layout cannot be rendered because the database is what failed.
_BARE_LAYOUT = {"identity": None, "company": None, "nav": [], "settings_nav": [], "flashes": []}


SERVER_ERROR = (500, "Something went wrong", "The error has been recorded. Quote the error id if you contact support.")
UNAVAILABLE = (503, "The database is not answering", "Please try again in a moment.")
UNAVAILABLE_RETRY_AFTER = "10"


def _html_server_error(request: Request, error_id: str, status: int, title: str, message: str):
    values = {"status": status, "title": title, "message": message, "error_id": error_id}
    for extra in ({}, _BARE_LAYOUT):
        try:
            response = render_to_response("error.jinja2", {**values, **extra}, request=request)
        except Exception:
            log.warning(
                "error page %s could not be rendered%s",
                error_id,
                "" if extra else " with the full layout",
                exc_info=True,
            )
            continue
        response.status_int = status
        return response
    response = request.response
    response.status_int = status
    response.content_type = "text/plain"
    response.text = f"{title} (error id {error_id}, request id {request.environ.get('orbitflow.request_id', '-')})."
    return response


def _wants_json(request: Request) -> bool:
    if request.path_info.startswith("/api/"):
        return True
    offers = request.accept.acceptable_offers(["text/html", "application/json"])
    return bool(offers) and offers[0][0] == "application/json" and "text/html" not in request.accept


@notfound_view_config()
def not_found(exc, request: Request):
    # The route matched but no view takes this method: that is a 405, not a missing page.
    if isinstance(exc, PredicateMismatch) and request.matched_route is not None:
        refusal = method_not_allowed(request, request.matched_route.name)
        if refusal is not None:
            return http_exception(refusal, request)
    if _wants_json(request):
        return json_error(request, 404, "Not found.")
    return html_error(request, 404, "Page not found", "The page you asked for does not exist or you cannot see it.")


@forbidden_view_config()
def forbidden(exc, request: Request):
    signed_in = request.identity is not None
    if _wants_json(request):
        if not signed_in:
            return json_error(request, 401, "Sign in or send an API key.")
        message = exc.detail if isinstance(exc.detail, str) and exc.detail else "You do not have permission for this."
        return json_error(request, 403, message)
    if not signed_in:
        return HTTPFound(request.route_url("login", _query={"next": request.path_qs}))
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else "Your role does not allow this."
    return html_error(request, 403, "Not allowed", message)


@exception_view_config(APIError)
def api_error(exc: APIError, request: Request):
    response = json_error(request, exc.code, exc.detail, exc.fields, exc.error_code)
    if "Retry-After" in exc.headers:
        response.headers["Retry-After"] = exc.headers["Retry-After"]
    return response


@exception_view_config(HTTPException)
def http_exception(exc: HTTPException, request: Request):
    if exc.code < 400:
        return exc
    if _wants_json(request):
        response = json_error(request, exc.code, exc.detail or exc.title)
        for name in ("Retry-After", "Allow"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    response = html_error(request, exc.code, exc.title, exc.detail or exc.explanation)
    for name in ("Retry-After", "Allow"):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response


@exception_view_config(Exception)
def server_error(exc: Exception, request: Request):
    if _will_retry(request, exc):
        # pyramid_retry discards this response and runs the request again.
        return json_error(request, 503, "Retrying.")
    source = "API_ROUTE" if request.path_info.startswith("/api/") else "SERVER_ACTION"
    error_id = record_exception_after_request(request, exc, source=source)
    status, title, message = UNAVAILABLE if is_database_unavailable(exc) else SERVER_ERROR
    if _wants_json(request):
        if status == 503:
            response = json_error(request, 503, f"{title}; try again in a moment (error id {error_id}).")
        else:
            response = json_error(request, 500, f"{title} on our side (error id {error_id}).", code="server_error")
    else:
        response = _html_server_error(request, error_id, status, title, message)
    if status == 503:
        response.headers["Retry-After"] = UNAVAILABLE_RETRY_AFTER
    return response


def _will_retry(request: Request, exc: Exception) -> bool:
    """Is ``exc`` a deadlock, lock wait or lost connection that pyramid_retry will retry?

    pyramid_tm tags such errors only after this view has run, so ask the transaction's
    data managers now (and tag the error for pyramid_retry): a retried attempt is not an
    error to report.
    """
    if is_last_attempt(request):
        return False
    if is_error_retryable(request, exc):
        return True
    try:
        retryable = request.tm.get().isRetryableError(exc)
    except Exception:
        return False
    if retryable:
        mark_error_retryable(exc)
    return retryable


def includeme(config) -> None:
    config.scan(__name__)
