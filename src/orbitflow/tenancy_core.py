"""The tenant check of Core statements run through a session.

ORM statements get the ``company_id`` criterion added for them (:mod:`orbitflow.db`).
A Core statement (``update(Lead.__table__)``, ``select(table.c.id)``, ``insert(table)``)
gets nothing added, so the session refuses one that touches a tenant-owned table without
naming the company itself: a SELECT, UPDATE or DELETE must compare that table's
``company_id`` in its WHERE (or a join's ON), an INSERT must give ``company_id`` a value
in every row, and that value must be the session's company when one is bound. Code that
crosses tenants on purpose says so with :func:`orbitflow.db.unscoped` or the
``tenant_bypass`` execution option. Raw ``text()`` SQL cannot be read and is not checked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sqlalchemy import Table, event
from sqlalchemy.orm import Mapper, ORMExecuteState
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, ColumnClause
from sqlalchemy.sql.selectable import Join, Select
from sqlalchemy.sql.util import find_tables

from orbitflow.models.meta import Base, TenantOwned

COMPANY_COLUMN = "company_id"

_tenant_tables: list[frozenset[str]] = []


class CoreTenantError(RuntimeError):
    """A Core statement on a tenant-owned table does not name the company."""


def tenant_table_names() -> frozenset[str]:
    """The tables of every tenant-owned model (plugins' included): computed once, and
    again after a class is mapped."""
    if not _tenant_tables:
        mappers = Base.registry.mappers
        _tenant_tables.append(
            frozenset(mapper.local_table.name for mapper in mappers if issubclass(mapper.class_, TenantOwned))
        )
    return _tenant_tables[0]


@event.listens_for(Mapper, "instrument_class")
def _forget_tenant_tables(_mapper, _class) -> None:
    _tenant_tables.clear()


def _base_table(selectable) -> Table | None:
    # An alias (or an alias of an alias) of a table stands for that table.
    while selectable is not None and not isinstance(selectable, Table):
        selectable = getattr(selectable, "element", None)
    return selectable


def _tables(statement) -> set[str]:
    found = find_tables(statement, include_aliases=True, include_crud=True)
    return {table.name for table in map(_base_table, found) if table is not None}


def _onclauses(selectable) -> Iterator:
    if isinstance(selectable, Join):
        if selectable.onclause is not None:
            yield selectable.onclause
        yield from _onclauses(selectable.left)
        yield from _onclauses(selectable.right)


def _criteria(statement) -> Iterator:
    """Every WHERE and ON clause of the statement, its subqueries' included."""
    for element in visitors.iterate(statement):
        if isinstance(element, Select | Update | Delete) and element.whereclause is not None:
            yield element.whereclause
        if isinstance(element, Select):
            # Joins made with .join() exist as Join objects only in the final FROM list.
            for selectable in element.get_final_froms():
                yield from _onclauses(selectable)
        elif isinstance(element, Join):
            yield from _onclauses(element)


def _company_table(element) -> Table | None:
    if isinstance(element, ColumnClause) and element.name == COMPANY_COLUMN:
        return _base_table(getattr(element, "table", None))
    return None


def _named_companies(statement, company_id: int | None) -> set[str]:
    """Tables whose ``company_id`` a WHERE or ON clause of ``statement`` compares.

    A comparison with a literal company other than the session's is refused outright."""
    named = set()
    for clause in _criteria(statement):
        for element in visitors.iterate(clause):
            table = _company_table(element)
            if table is not None:
                named.add(table.name)
            elif company_id is not None and isinstance(element, BinaryExpression):
                _refuse_other_company(element, company_id)
    return named


def _refuse_other_company(comparison: BinaryExpression, company_id: int) -> None:
    sides = (comparison.left, comparison.right)
    for column, value in (sides, sides[::-1]):
        table = _company_table(column)
        if table is None or not isinstance(value, BindParameter) or value.callable is not None:
            continue
        if comparison.operator is operators.eq and isinstance(value.value, int) and value.value != company_id:
            raise CoreTenantError(
                f"Core statement on {table.name} names company {value.value} from a session bound to {company_id}"
            )


def _insert_rows(state: ORMExecuteState) -> list[Mapping]:
    """The rows an INSERT writes: its parameters, else the values compiled into it."""
    parameters = state.parameters
    if isinstance(parameters, list | tuple) and parameters:
        return list(parameters)
    if isinstance(parameters, Mapping) and parameters:
        return [parameters]
    compiled = state.statement.compile()
    return [compiled.params]


def _check_insert(state: ORMExecuteState, table: str, company_id: int | None) -> None:
    for row in _insert_rows(state):
        value = row.get(COMPANY_COLUMN)
        if value is None:
            raise CoreTenantError(
                f"INSERT into tenant-owned {table} without {COMPANY_COLUMN}: give every row its company "
                "(or run it with unscoped() when it crosses tenants on purpose)"
            )
        if company_id is not None and isinstance(value, int) and value != company_id:
            raise CoreTenantError(f"INSERT into {table} for company {value} from a session bound to {company_id}")


def check_core_statement(state: ORMExecuteState, company_id: int | None) -> None:
    """Refuse ``state``'s Core statement when it touches a tenant-owned table without its company."""
    statement = state.statement
    if not isinstance(statement, Select | Update | Delete | Insert):
        return
    tenant_tables = tenant_table_names()
    if isinstance(statement, Insert):
        # The table written is the one that matters (the outbox's INSERT runs per change).
        table = _base_table(statement.table).name
        if table in tenant_tables:
            _check_insert(state, table, company_id)
        return
    touched = _tables(statement) & tenant_tables
    if not touched:
        return
    missing = touched - _named_companies(statement, company_id)
    if missing:
        kind = type(statement).__name__.upper()
        raise CoreTenantError(
            f"Core {kind} on tenant-owned {', '.join(sorted(missing))} does not compare {COMPANY_COLUMN} in its "
            "WHERE: add the company criterion (or run it with unscoped() when it crosses tenants on purpose)"
        )


def check_orm_insert(state: ORMExecuteState, company_id: int | None) -> None:
    """An ORM bulk INSERT (``session.execute(insert(Model), rows)``) is not stamped by the flush: same rule."""
    mapper = state.bind_mapper
    if mapper is not None and issubclass(mapper.class_, TenantOwned):
        _check_insert(state, mapper.local_table.name, company_id)
