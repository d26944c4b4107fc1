"""Helpers every JSON API view uses: body parsing, paging, serialising times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyramid.request import Request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from orbitflow.web.errors import APIError
from orbitflow.web.inputs import MAX_PAGE, NumberError, bounded_int, parse_page, whole_number

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100


BODY_ENVIRON_KEY = "orbitflow.api.body"


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, as checked against its operation's schema
    (:mod:`orbitflow.api.validation`), or a 400 that says what is wrong."""
    checked = request.environ.get(BODY_ENVIRON_KEY)
    if checked is not None:
        return checked
    return parse_json_body(request)


def parse_json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong."""
    if not request.body:
        raise APIError(400, "Send a JSON object in the request body.")
    try:
        body = request.json_body
    except ValueError:
        raise APIError(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise APIError(400, "The request body must be a JSON object.")
    return body


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z; every stored time is naive UTC."""
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def int_param(request: Request, name: str, default: int, minimum: int = 1, maximum: int = MAX_PAGE) -> int:
    """A whole-number query parameter within bounds, or a 400 that names them."""
    raw = request.params.get(name)
    if raw in (None, ""):
        return default
    try:
        return bounded_int(raw, minimum=minimum, maximum=maximum)
    except NumberError:
        problem = "out of range" if whole_number(raw) is not None else "not a number"
        message = f"{name} must be a whole number from {minimum} to {maximum}."
        raise APIError(400, message, {name: problem}) from None


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def as_json(self, serialise) -> dict[str, Any]:
        return {
            "items": [serialise(item) for item in self.items],
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
        }


def paginate(session: Session, query: Select, request: Request, default_per_page: int = DEFAULT_PER_PAGE) -> Page:
    """Run ``query`` for the page named by ``page`` and ``per_page`` parameters."""
    page = int_param(request, "page", 1)
    per_page = int_param(request, "per_page", default_per_page, maximum=MAX_PER_PAGE)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(list(items), total, page, per_page)


def paginate_page(session: Session, query: Select, request: Request, per_page: int = DEFAULT_PER_PAGE) -> Page:
    """:func:`paginate` for an HTML page: a page number a person edited by hand is read
    leniently and clamped to the last page, never an error."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = min(parse_page(request.params.get("page")), max(1, -(-total // per_page)))
    items = session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(list(items), total, page, per_page)


def paging_parameters(max_page: int = MAX_PAGE, default_per_page: int = DEFAULT_PER_PAGE) -> list[dict[str, Any]]:
    """The OpenAPI description of ``page`` and ``per_page``, with the bounds enforced."""
    return [
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": max_page, "default": 1}},
        {
            "name": "per_page",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": default_per_page},
        },
    ]
