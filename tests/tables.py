"""Reading whole databases back, to compare two of them row by row."""

from __future__ import annotations

from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.engine import Engine

from orbitflow.config import load_settings


def engine_for(url: str) -> Engine:
    """An engine for a URL written as operators write DATABASE_URL."""
    settings = load_settings({"sqlalchemy.url": url, "orbitflow.auth_secret": "x" * 32}, environ={})
    return create_engine(settings.database.url)


def every_row(url: str) -> dict[str, list[tuple]]:
    """Every table's rows, in primary key order, as the database holds them now."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            metadata = MetaData()
            metadata.reflect(connection)
            rows = {}
            for table in metadata.sorted_tables:
                order = list(table.primary_key.columns) or list(table.columns)
                rows[table.name] = [tuple(row) for row in connection.execute(select(table).order_by(*order))]
            return rows
    finally:
        engine.dispose()
