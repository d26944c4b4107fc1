"""One decoding step for every request: what cannot be read is a 400 that says why.

Before a view (or Pyramid's router, or the CSRF check) touches the request, the tween
checks what they would otherwise fail on with a 500:

- the path and the query string must be UTF-8 once their percent-escapes are undone
  (``/q/%ff/x``, ``?next=%ff``);
- a body is UTF-8: a ``charset`` other than UTF-8 (or its subset US-ASCII) is refused,
  and so is an ordinary form whose bytes (percent-escapes undone) are not UTF-8;
- a multipart form is parsed here; a file is taken only in the fields a route declared
  with :func:`allow_file_field` (the CSV import), elsewhere a field is text and a file
  in it is refused;
- no text holds a NUL character (paths, query strings, form fields, JSON strings).

JSON bodies are read by ``request.json_body`` (and its alias ``request.json``), replaced
here by :func:`read_json`: besides the above it refuses nesting deeper than
``MAX_JSON_DEPTH``, lone surrogates (``"\\ud800"``, which no database can store),
``NaN``/``Infinity`` and numbers beyond a float (``1e400``); a route declared with
:func:`allow_lone_surrogates` (browsers' error reports) takes lone surrogates. JSON that is not JSON at all
still raises ``ValueError``, for the caller's own message.

The answer is :class:`UndecodableRequest`: the JSON error shape for the API, JSON bodies
and clients that ask for JSON, the product's error page otherwise. Nothing is logged as
an error: the client sent something wrong.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

from pyramid.httpexceptions import HTTPBadRequest
from pyramid.interfaces import IRoutesMapper
from pyramid.request import Request
from pyramid.tweens import INGRESS
from pyramid.view import exception_view_config

from orbitflow.shared import provide, provided
from orbitflow.web.errors import html_error, json_error

MAX_JSON_DEPTH = 32
UTF8_NAMES = {"utf-8", "utf8", "us-ascii", "ascii"}
# A percent-escape of a byte outside ASCII.
_HIGH_ESCAPE = re.compile(rb"%[89a-fA-F]")
# The environ key under which the original, undecodable path is kept.
BAD_PATH_KEY = "orbitflow.undecodable_path"


class UndecodableRequest(HTTPBadRequest):
    """The request cannot be read as text; ``detail`` says what to fix."""

    def __init__(self, message: str):
        super().__init__(detail=message)


class LoneSurrogate(UndecodableRequest):
    """A JSON string holds half of a UTF-16 pair."""


@dataclass
class Allowances:
    """What some routes take that others refuse, declared by the includeme adding them."""

    file_fields: set[tuple[str, str]] = field(default_factory=set)  # (route, field)
    lone_surrogate_routes: set[str] = field(default_factory=set)


def _allowances(registry) -> Allowances:
    return provided(registry, Allowances) or provide(registry, Allowances())


def allow_file_field(config, route_name: str, field_name: str) -> None:
    """Let ``field_name`` of forms posted to ``route_name`` carry a file (an upload form)."""
    _allowances(config.registry).file_fields.add((route_name, field_name))


def allow_lone_surrogates(config, route_name: str) -> None:
    """Let JSON posted to ``route_name`` hold lone surrogates, which its view replaces
    before storing: browsers' error reports, whose messages JavaScript may have cut in
    the middle of a character."""
    _allowances(config.registry).lone_surrogate_routes.add(route_name)


def readable_path_tween_factory(handler, registry):
    """First of all tweens: a path that is not UTF-8 is replaced by one that is (its bad
    bytes as U+FFFD), so that everything above the exception view (transactions, the
    access log) can read it; :func:`check_request` then refuses the request."""

    def tween(request: Request):
        environ = request.environ
        raw = environ.get("PATH_INFO", "")
        if _undo_wsgi_latin1(raw) is None:
            environ[BAD_PATH_KEY] = raw
            readable = raw.encode("latin-1", "replace").decode("utf-8", "replace")
            environ["PATH_INFO"] = readable.encode("utf-8").decode("latin-1")
        return handler(request)

    return tween


def check_request(request: Request) -> None:
    """Raise :class:`UndecodableRequest` for what no view could read."""
    environ = request.environ
    if BAD_PATH_KEY in environ:
        raise UndecodableRequest("The address is not valid UTF-8: check its percent-escapes (%xx).")
    if "\x00" in request.path_info:
        raise UndecodableRequest("The address holds a NUL character (%00).")
    if environ.get("QUERY_STRING"):
        try:
            query = request.GET
        except UnicodeDecodeError:
            _forget_query(request)
            raise UndecodableRequest(
                "The address's query string is not valid UTF-8: check its percent-escapes (%xx)."
            ) from None
        if _has_nul(query.items()):
            _forget_query(request)
            raise UndecodableRequest("The address's query string holds a NUL character (%00).")
    if not _has_body(request):
        return
    charset = _declared_charset(request)
    if charset is not None and charset.lower() not in UTF8_NAMES:
        raise UndecodableRequest(f"Send the request body in UTF-8; charset={charset[:40]} is not supported.")
    content_type = request.content_type
    if content_type == "application/x-www-form-urlencoded":
        # Read by the views as they like (the quiz page parses it itself): check the bytes.
        body = request.body
        if b"\x00" in body or b"%00" in body:
            raise UndecodableRequest("A form field holds a NUL character.")
        if not _is_utf8_form(body):
            raise UndecodableRequest("The form is not valid UTF-8: check its percent-escapes (%xx).")
    elif content_type == "multipart/form-data":
        _check_multipart(request)
    elif _is_json(content_type):
        # Read now, before the CSRF check or a view: what cannot be decoded is refused
        # first. JSON that is not JSON at all is left to the view's own message.
        try:
            request.json_body  # noqa: B018 (reified: the view gets this value)
        except UndecodableRequest:
            raise
        except ValueError:
            pass


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def _undo_wsgi_latin1(text: str) -> str | None:
    """PEP 3333 hands the path over as bytes in latin-1 clothing; the text, or None."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None


def _forget_query(request: Request) -> None:
    # The error page is built from the same request: give it a query string it can read.
    request.environ["QUERY_STRING"] = ""
    request.environ.pop("webob._parsed_query_vars", None)


def _has_nul(items) -> bool:
    return any("\x00" in name or (isinstance(value, str) and "\x00" in value) for name, value in items)


def _has_body(request: Request) -> bool:
    return bool(request.content_length) or (request.content_length is None and request.is_body_readable)


def _declared_charset(request: Request) -> str | None:
    params = request.headers.get("Content-Type", "").split(";")[1:]
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


def _is_utf8_form(body: bytes) -> bool:
    """Are the form's bytes, percent-escapes undone, UTF-8? (Else they would be read
    with replacement characters and stored so.)"""
    if body.isascii() and not _HIGH_ESCAPE.search(body):
        return True  # the usual case: nothing but ASCII, escaped or not
    try:
        unquote_to_bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _check_multipart(request: Request) -> None:
    try:
        form = request.POST
    except Exception:  # cgi and WebOb raise several kinds for a malformed body
        raise UndecodableRequest("The form could not be read: its multipart body is malformed.") from None
    allowed = _allowances(request.registry).file_fields
    route = None
    for name, value in form.items():
        if isinstance(value, str):
            if "\x00" in value or "\x00" in name:
                raise UndecodableRequest("A form field holds a NUL character.")
            continue
        if route is None:
            route = _route_name(request)
        if (route, name) not in allowed:
            raise UndecodableRequest(f"The form field “{name[:40]}” takes text, not a file.")


def _route_name(request: Request) -> str:
    mapper = request.registry.queryUtility(IRoutesMapper)
    info = mapper(request) if mapper is not None else {}
    route = info.get("route")
    return route.name if route is not None else ""


# -- JSON ------------------------------------------------------------------------------


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UndecodableRequest(f"The number {text[:40]} is too large for JSON.")
    return value


def _no_constant(name: str) -> Any:
    raise UndecodableRequest(f"{name} is not a JSON number.")


def read_json(request: Request) -> Any:
    """The request's JSON value, checked as the module's docstring says."""
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise UndecodableRequest("The request body is not valid UTF-8.") from None
    try:
        value = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise UndecodableRequest(f"The JSON is nested too deeply: at most {MAX_JSON_DEPTH} levels.") from None
    try:
        _check_json_value(value)
    except LoneSurrogate:
        if _route_name(request) not in _allowances(request.registry).lone_surrogate_routes:
            raise
        _check_json_value(value, surrogates=True)
    return value


def _check_json_value(value: Any, *, surrogates: bool = False) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_json_text(item, surrogates)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise UndecodableRequest(f"The JSON is nested too deeply: at most {MAX_JSON_DEPTH} levels.")
            if isinstance(item, dict):
                for key in item:
                    _check_json_text(key, surrogates)
                children = item.values()
            else:
                children = item
            stack.extend((child, depth + 1) for child in children if isinstance(child, str | dict | list))


def _check_json_text(text: str, surrogates: bool) -> None:
    if "\x00" in text:
        raise UndecodableRequest("A JSON string holds a NUL character (\\u0000).")
    if surrogates:
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise LoneSurrogate(
            "A JSON string holds a lone surrogate (such as \\ud800): send text as whole characters."
        ) from None


# -- wiring ----------------------------------------------------------------------------


def decoding_tween_factory(handler, registry):
    def tween(request: Request):
        check_request(request)
        return handler(request)

    return tween


def _wants_json(request: Request) -> bool:
    if request.path_info.startswith("/api/") or _is_json(request.content_type or ""):
        return True
    offers = request.accept.acceptable_offers(["text/html", "application/json"])
    return bool(offers) and offers[0][0] == "application/json"


@exception_view_config(UndecodableRequest)
def undecodable(exc: UndecodableRequest, request: Request):
    if _wants_json(request):
        return json_error(request, 400, exc.detail)
    return html_error(request, 400, "The request could not be read", exc.detail)


def includeme(config) -> None:
    config.add_request_method(read_json, "json_body", reify=True)
    config.add_request_method(read_json, "json", reify=True)
    config.add_tween(
        "orbitflow.web.decoding.readable_path_tween_factory",
        under=INGRESS,
        over="orbitflow.web.requestid.request_id_tween_factory",
    )
    config.add_tween(
        "orbitflow.web.decoding.decoding_tween_factory", under="orbitflow.web.tweens.body_limit_tween_factory"
    )
    config.scan(__name__)
