"""Medians computed by the database: the middle value of an odd count, the mean of the
middle two of an even count, NULLs left out, one row per group, on each backend."""

from __future__ import annotations

from sqlalchemy import Integer, String, cast, literal, null, select, union_all

from orbitflow_plugins.analytics.medians import median_select

VALUES = [("a", 10), ("a", 1), ("a", 4), ("a", 2), ("b", 5), ("c", 9), ("c", None), ("c", 7), ("d", None)]


def _values():
    rows = [
        select(
            cast(literal(group), String(1)).label("grp"),
            cast(literal(value) if value is not None else null(), Integer).label("v"),
        )
        for group, value in VALUES
    ]
    return union_all(*rows).subquery()


def test_medians_by_group_take_the_middle_or_the_mean_of_the_middle_two(db):
    values = _values()
    rows = db.execute(median_select(db.get_bind().dialect, values.c.v, [values.c.grp])).all()
    assert sorted((group, float(median)) for group, median in rows) == [("a", 3.0), ("b", 5.0), ("c", 8.0)]


def test_a_median_over_all_rows_and_over_none(db):
    values = _values()
    dialect = db.get_bind().dialect
    assert float(db.execute(median_select(dialect, values.c.v, [])).scalar()) == 5.0
    assert db.execute(median_select(dialect, values.c.v, [], values.c.grp == "d")).scalar() is None
