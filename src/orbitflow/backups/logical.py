"""The logical dump: every row of every table as JSON lines, read in one snapshot.

Layout after the header line: for each table (parents before children) a line
``{"table": name, "columns": [...]}``, then one JSON array per row, and a last line
``{"end": true, "rows": N}`` so that a cut-off file is refused rather than half restored.
Values JSON cannot hold (times, decimals, bytes, JSON documents) are tagged objects.

Columns are read and written with the models' types where the code knows the column and
with the reflected ones otherwise, so a dump of SQLite restores into MariaDB too; JSON
documents travel as the text the database holds.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import JSON, MetaData, Table, Text, column, select, table
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import TableClause

from orbitflow.migrations import VERSION_TABLE, current_heads
from orbitflow.models.meta import Base

BATCH_ROWS = 500


class DamagedBackup(ValueError):
    """The dump's lines are not what a complete logical dump holds."""


@dataclass(frozen=True)
class DumpStats:
    tables: int
    rows: int


def encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return {"$t": "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$t": "date", "v": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$t": "time", "v": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$t": "decimal", "v": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$t": "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict | list):
        return {"$t": "json", "v": value}
    raise TypeError(f"cannot back up a value of type {type(value).__name__}")


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "decimal": decimal.Decimal,
    "bytes": base64.b64decode,
    "json": lambda value: value,
}


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        try:
            return _DECODERS[value["$t"]](value["v"])
        except (KeyError, TypeError, ValueError):
            raise DamagedBackup(f"a value of the backup cannot be read: {str(value)[:80]}") from None
    return value


@contextlib.contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only connection that sees the database as of one moment, whatever commits
    meanwhile (InnoDB's consistent snapshot; SQLite's read transaction under WAL)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("BEGIN")
            try:
                yield connection
            finally:
                connection.rollback()
        return
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        connection.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        try:
            yield connection
        finally:
            connection.rollback()


def model_metadata(plugins: tuple[str, ...]) -> MetaData:
    """The models of the core and of the enabled plugins (imported, so that all are known)."""
    import orbitflow.models.all  # noqa: F401
    from orbitflow.plugins import import_model_modules, make_plugin_manager

    import_model_modules(make_plugin_manager(plugins))
    return Base.metadata


def typed(reflected: Table, models: MetaData) -> TableClause:
    """``reflected`` with the models' column types where the models have the column."""
    model = models.tables.get(reflected.name)
    columns = []
    for col in reflected.columns:
        known = model.columns.get(col.name) if model is not None else None
        type_ = known.type if known is not None else col.type
        if isinstance(type_, JSON):
            # As stored: JSON's own null and SQL NULL stay apart, and the text is kept byte for byte.
            type_ = Text()
        columns.append(column(col.name, type_))
    return table(reflected.name, *columns)


def reflect(connection: Connection) -> MetaData:
    metadata = MetaData()
    metadata.reflect(connection)
    return metadata


def dump(engine: Engine, models: MetaData, stream: IO[str], header_for: Callable[[frozenset[str]], str]) -> DumpStats:
    """Write ``header_for(migrations)`` and every row to ``stream`` from one snapshot."""
    total_rows = 0
    with snapshot(engine) as connection:
        stream.write(header_for(current_heads(connection)))
        tables = reflect(connection).sorted_tables
        for reflected in tables:
            clause = typed(reflected, models)
            names = [col.name for col in reflected.columns]
            stream.write(json.dumps({"table": reflected.name, "columns": names}) + "\n")
            order = [clause.c[col.name] for col in reflected.primary_key.columns] or [clause.c[names[0]]]
            result = connection.execution_options(yield_per=1000).execute(select(clause).order_by(*order))
            for row in result:
                stream.write(json.dumps([encode(value) for value in row], separators=(",", ":")) + "\n")
                total_rows += 1
        stream.write(json.dumps({"end": True, "rows": total_rows}) + "\n")
    return DumpStats(len(tables), total_rows)


def load(connection: Connection, models: MetaData, lines: Iterator[str]) -> DumpStats:
    """Insert the dump's rows into the tables ``connection`` has (created by migrating to
    the dump's revisions); ``alembic_version`` is left as those migrations wrote it."""
    metadata = reflect(connection)
    current: TableClause | None = None
    columns: list[str] | None = None
    batch: list[dict] = []
    tables = rows = 0

    def flush() -> None:
        if current is not None and batch:
            connection.execute(current.insert(), batch)
        batch.clear()

    for number, line in enumerate(lines, start=2):
        try:
            item = json.loads(line)
        except ValueError:
            raise DamagedBackup(f"line {number} of the backup is not JSON") from None
        if isinstance(item, list):
            if columns is None:
                raise DamagedBackup(f"line {number}: a row before any table")
            if len(item) != len(columns):
                raise DamagedBackup(f"line {number}: {len(item)} values for {len(columns)} columns")
            rows += 1
            if current is None:  # alembic_version
                continue
            batch.append({name: decode(value) for name, value in zip(columns, item, strict=True)})
            if len(batch) >= BATCH_ROWS:
                flush()
        elif isinstance(item, dict) and "table" in item:
            flush()
            name, columns = item["table"], list(item["columns"])
            tables += 1
            if name == VERSION_TABLE:
                current = None
                continue
            if name not in metadata.tables:
                raise DamagedBackup(f"the backup has a table {name!r} that this schema does not have")
            missing = set(columns) - set(metadata.tables[name].columns.keys())
            if missing:
                raise DamagedBackup(f"the backup has columns {sorted(missing)} that table {name!r} does not have")
            current = typed(metadata.tables[name], models)
        elif isinstance(item, dict) and item.get("end"):
            flush()
            if item.get("rows") != rows:
                raise DamagedBackup(f"the backup announces {item.get('rows')} rows but holds {rows}")
            return DumpStats(tables, rows)
        else:
            raise DamagedBackup(f"line {number} of the backup is not a table, a row or the end")
    raise DamagedBackup("the backup ends before its last line: the file is incomplete")
