"""Reading whole databases back, to compare two of them row by row."""

from __future__ import annotations

from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.engine import Engine

from orbitflow.config import load_settings
from orbitflow.models.meta import Base

# Rows every request may write (the session's last-seen time): left out of "nothing changed".
REQUEST_BOOKKEEPING = ("user_sessions",)


def engine_for(url: str) -> Engine:
    """An engine for a URL written as operators write DATABASE_URL."""
    settings = load_settings({"sqlalchemy.url": url, "orbitflow.auth_secret": "x" * 32}, environ={})
    return create_engine(settings.database.url)


def rows_of(
    engine: Engine, leave_out: tuple[str, ...] = (), metadata: MetaData | None = None
) -> dict[str, list[tuple]]:
    """Every table's rows (but those named in ``leave_out``), in primary key order, read
    through a new connection; the tables of ``metadata``, or those the database has."""
    with engine.connect() as connection:
        if metadata is None:
            metadata = MetaData()
            metadata.reflect(connection)
        rows = {}
        for table in metadata.sorted_tables:
            if table.name in leave_out:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows[table.name] = [tuple(row) for row in connection.execute(select(table).order_by(*order))]
        return rows


def every_row(url: str) -> dict[str, list[tuple]]:
    """Every table's rows, in primary key order, as the database holds them now."""
    engine = engine_for(url)
    try:
        return rows_of(engine)
    finally:
        engine.dispose()


class Unchanged:
    """``with Unchanged(engine): ...`` fails when the block changed any row of any table
    (request bookkeeping aside), naming the tables that changed. The tables are the models'
    (every plugin's too): quicker than reading the schema each time."""

    def __init__(self, engine: Engine, leave_out: tuple[str, ...] = REQUEST_BOOKKEEPING) -> None:
        self.engine, self.leave_out = engine, leave_out

    def __enter__(self) -> Unchanged:
        self.before = rows_of(self.engine, self.leave_out, Base.metadata)
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is not None:
            return
        after = rows_of(self.engine, self.leave_out, Base.metadata)
        changed = sorted(name for name in set(self.before) | set(after) if self.before.get(name) != after.get(name))
        assert not changed, f"rows changed in {changed}"
