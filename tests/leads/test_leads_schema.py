"""The leads tables the migrations build are the tables the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from orbitflow.models.meta import Base

LEADS_TABLES = {"stages", "leads", "lead_tags", "lead_notes", "lead_activity", "lead_imports"}


def _table_of(diff) -> str | None:
    for item in diff if isinstance(diff, list) else [diff]:
        for part in item:
            name = getattr(part, "name", None)
            table = getattr(part, "table", None)
            if table is not None and getattr(table, "name", None):
                return table.name
            if isinstance(part, str) and part in LEADS_TABLES:
                return part
            if name in LEADS_TABLES:
                return name
    return None


def test_migrations_match_the_leads_models(backend):
    with backend.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    ours = [diff for diff in diffs if _table_of(diff) in LEADS_TABLES]
    assert ours == []
