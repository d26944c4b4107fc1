"""Write counters keyed by a unique constraint, in one statement per batch, on MariaDB
(``ON DUPLICATE KEY UPDATE``) and SQLite (``ON CONFLICT DO UPDATE``): add to them
(:func:`add_counts`) or set them (:func:`replace_counts`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection

# Rows per statement: bounded so a rebuild's statements stay well under max_allowed_packet.
CHUNK = 1000


def _upsert(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    measures: Sequence[str],
    add: bool,
) -> None:
    """One statement compiled once and run with each chunk of rows as its parameters
    (executemany): a multi-row VALUES clause would be compiled anew for every chunk."""
    if connection.dialect.name == "sqlite":
        statement = sqlite.insert(table)
        new = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={m: table.c[m] + new[m] if add else new[m] for m in measures}
        )
    else:
        statement = mysql.insert(table)
        new = statement.inserted
        statement = statement.on_duplicate_key_update({m: table.c[m] + new[m] if add else new[m] for m in measures})
    for start in range(0, len(rows), CHUNK):
        connection.execute(statement, list(rows[start : start + CHUNK]))


def add_counts(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str], measures: Sequence[str]
) -> None:
    """Insert ``rows`` or, where a row with the same ``keys`` exists, add their ``measures``."""
    _upsert(connection, table, rows, keys, measures, add=True)


def replace_counts(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str], measures: Sequence[str]
) -> None:
    """Insert ``rows`` or, where a row with the same ``keys`` exists, set its ``measures``
    to theirs."""
    _upsert(connection, table, rows, keys, measures, add=False)
