"""Paging for HTML lists: lenient page numbers and links that keep the filters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyramid.request import Request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from orbitflow.web.inputs import parse_page

HTML_PER_PAGE = 50


@dataclass(frozen=True)
class Pager:
    page: int
    per_page: int
    total: int
    prev_url: str | None
    next_url: str | None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)


def page_number(request: Request) -> int:
    """A page parameter a person edited by hand falls back to the first page."""
    return parse_page(request.params.get("page"))


def paged(
    session: Session,
    query: Select,
    request: Request,
    params: Mapping[str, Any],
    per_page: int = HTML_PER_PAGE,
) -> tuple[list[Any], Pager]:
    """One page of ``query``; ``params`` are the filters the page links repeat."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(page_number(request), pages)
    items = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all())

    def url(number: int) -> str:
        query_params = {**params, "page": str(number)} if number > 1 else dict(params)
        return request.current_route_url(_query=query_params)

    return items, Pager(
        page=page,
        per_page=per_page,
        total=total,
        prev_url=url(page - 1) if page > 1 else None,
        next_url=url(page + 1) if page < pages else None,
    )
