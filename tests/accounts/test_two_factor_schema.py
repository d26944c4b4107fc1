"""The two-factor migration builds what the models describe, and goes down and up again."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from orbitflow.config import load_settings
from orbitflow.db import make_engine
from orbitflow.migrations import alembic_config, upgrade_to_heads
from orbitflow.models.meta import Base

TABLES = {"two_factor_secrets", "two_factor_recovery_codes", "two_factor_challenges"}
COLUMNS = {("companies", "require_two_factor"), ("user_sessions", "needs_two_factor")}


def _concerns_us(diff) -> bool:
    text = repr(diff)
    return any(table in text for table in TABLES) or any(column in text for _, column in COLUMNS)


def test_the_migration_matches_the_models(backend):
    with backend.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    assert [diff for diff in diffs if _concerns_us(diff)] == []


@pytest.fixture
def database_url(backend_name, request, tmp_path) -> str:
    if backend_name == "sqlite":
        return f"sqlite:///{tmp_path / 'orbitflow.sqlite'}"
    return request.getfixturevalue("new_mariadb_database")()


def test_the_migration_goes_down_and_up_again(database_url):
    settings = load_settings({"sqlalchemy.url": database_url, "orbitflow.auth_secret": "s" * 40}, environ={})
    engine = make_engine(settings.database)
    try:
        cfg = alembic_config(settings, engine)
        upgrade_to_heads(cfg)
        assert set(inspect(engine).get_table_names()) >= TABLES
        # To the revision before it: every later one (and what depends on them) goes too.
        command.downgrade(cfg, ScriptDirectory.from_config(cfg).get_revision("0014_two_factor").down_revision)
        inspector = inspect(engine)
        assert not TABLES & set(inspector.get_table_names())
        for table, column in COLUMNS:
            assert column not in {c["name"] for c in inspector.get_columns(table)}
        upgrade_to_heads(cfg)
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) >= TABLES
        for table, column in COLUMNS:
            assert column in {c["name"] for c in inspector.get_columns(table)}
    finally:
        engine.dispose()
