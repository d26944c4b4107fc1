"""Medians computed by the database, so a report fetches one number per group, not every
lead's or submission's duration: MariaDB's ``MEDIAN()`` window function, and on SQLite
(which has none) the rows of each group ranked by ``ROW_NUMBER()`` with the middle one (or
the mean of the middle two) kept. Both give the mean of the middle two of an even count.
(``MEDIAN()`` takes about half the time of ranking and counting the rows: one window, one
sort.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Dialect, Float, Select, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement


class seconds_between(FunctionElement):
    """``later - earlier`` in seconds (two DATETIME columns)."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_between(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return f"TIMESTAMPDIFF(SECOND, {compiler.process(earlier, **kw)}, {compiler.process(later, **kw)})"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"CAST(ROUND((julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)}))"
        " * 86400) AS INTEGER)"
    )


def median_select(
    dialect: Dialect, value: ColumnElement[Any], keys: Sequence[ColumnElement[Any]], *where: ColumnElement[bool]
) -> Select[Any]:
    """``SELECT key..., median`` of ``value`` over the rows that match ``where``, one row per
    group of ``keys`` (without keys, at most one row: none or a NULL median when no row
    matches); NULL values are left out."""
    partition = list(keys) or None
    labelled = [key.label(f"key_{index}") for index, key in enumerate(keys)]
    if getattr(dialect, "is_mariadb", False):
        median = func.median(value).over(partition_by=partition).label("median")
        return select(*labelled, median).where(value.is_not(None), *where).distinct()
    ranked = (
        select(
            *labelled,
            value.label("value"),
            func.row_number().over(partition_by=partition, order_by=value).label("rank"),
            func.count().over(partition_by=partition).label("size"),
        )
        .where(value.is_not(None), *where)
        .subquery()
    )
    return (
        select(
            *(ranked.c[f"key_{index}"] for index in range(len(keys))),
            func.avg(ranked.c.value).label("median"),
        )
        .where(ranked.c.rank.between((ranked.c.size + 1) // 2, (ranked.c.size + 2) // 2))
        .group_by(*(ranked.c[f"key_{index}"] for index in range(len(keys))))
    )


__all__ = ["median_select", "seconds_between"]
