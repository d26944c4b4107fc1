"""Error responses: the product's pages for browsers, the JSON error shape under /api/."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPException, HTTPFound
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config
from pyramid_retry import is_error_retryable

from orbitflow.syslog.services import record_exception

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
        super().__init__(detail=message)
        self.code = status
        self.status = status
        self.title = ERROR_CODES.get(status, "error")
        self.error_code = code or ERROR_CODES.get(status, "error")
        self.fields = fields


def json_error(request: Request, status: int, message: str, fields=None, code: str | None = None):
    body = {"error": {"code": code or ERROR_CODES.get(status, "error"), "message": message}}
    if fields:
        body["error"]["fields"] = fields
    response = request.response
    response.status_int = status
    response.json_body = body
    response.content_type = "application/json"
    return response


def _html_error(request: Request, status: int, title: str, message: str, error_id: str | None = None):
    response = render_to_response(
        "error.jinja2",
        {"status": status, "title": title, "message": message, "error_id": error_id},
        request=request,
    )
    response.status_int = status
    return response


def _wants_json(request: Request) -> bool:
    if request.path_info.startswith("/api/"):
        return True
    offers = request.accept.acceptable_offers(["text/html", "application/json"])
    return bool(offers) and offers[0][0] == "application/json" and "text/html" not in request.accept


@notfound_view_config()
def not_found(exc, request: Request):
    if _wants_json(request):
        return json_error(request, 404, "Not found.")
    return _html_error(request, 404, "Page not found", "The page you asked for does not exist or you cannot see it.")


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
    return _html_error(request, 403, "Not allowed", message)


@exception_view_config(APIError)
def api_error(exc: APIError, request: Request):
    return json_error(request, exc.status, exc.detail, exc.fields, exc.error_code)


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
    response = _html_error(request, exc.code, exc.title, exc.detail or exc.explanation)
    if "Retry-After" in exc.headers:
        response.headers["Retry-After"] = exc.headers["Retry-After"]
    return response


@exception_view_config(Exception)
def server_error(exc: Exception, request: Request):
    if is_error_retryable(request, exc):
        # pyramid_retry discards this response and runs the request again.
        return json_error(request, 503, "Retrying.")
    source = "API_ROUTE" if request.path_info.startswith("/api/") else "SERVER_ACTION"
    error_id = record_exception(request.registry, exc, source=source, request=request)
    if _wants_json(request):
        return json_error(request, 500, f"Something went wrong on our side (error id {error_id}).", code="server_error")
    try:
        return _html_error(
            request,
            500,
            "Something went wrong",
            "The error has been recorded. Quote the error id if you contact support.",
            error_id,
        )
    except Exception:
        response = request.response
        response.status_int = 500
        response.content_type = "text/plain"
        response.text = f"Something went wrong (error id {error_id})."
        return response


def includeme(config) -> None:
    config.scan(__name__)
