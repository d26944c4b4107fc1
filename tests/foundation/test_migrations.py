"""Every migration runs both ways, on both databases, and the migrated schema is the models'.

Each test gets a database of its own (an SQLite file, or a throw-away MariaDB database, as
conftest.py makes them): upgrade to every head (core and plugin branches), downgrade to
base, upgrade again."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from orbitflow.config import load_settings
from orbitflow.db import make_engine
from orbitflow.migrations import alembic_config, current_heads
from orbitflow.models.meta import Base


@pytest.fixture
def empty_database(backend, backend_name, request, tmp_path):
    if backend_name == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrations.sqlite'}"
    else:
        url = request.getfixturevalue("new_mariadb_database")()
    # The tests' settings (every plugin), on the new database.
    settings = load_settings(backend.ini(**{"sqlalchemy.url": url}), environ={})
    engine = make_engine(settings.database)
    yield alembic_config(settings, engine), engine
    engine.dispose()


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def _differences(engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


@pytest.mark.slow
def test_every_migration_downgrades_and_upgrades_again(empty_database):
    cfg, engine = empty_database
    command.upgrade(cfg, "heads")
    with engine.connect() as connection:
        heads = current_heads(connection)
    assert heads and _tables(engine) == set(Base.metadata.tables)

    command.downgrade(cfg, "base")
    assert _tables(engine) == set()
    with engine.connect() as connection:
        assert current_heads(connection) == frozenset()

    command.upgrade(cfg, "heads")
    with engine.connect() as connection:
        assert current_heads(connection) == heads
    assert _tables(engine) == set(Base.metadata.tables)
    assert _differences(engine) == []
    if engine.dialect.name == "sqlite":
        # The migrations turn SQLite's foreign keys off for their batch rebuilds; the
        # connection they used goes back to the pool with them on again.
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def _schema(engine) -> dict[str, tuple]:
    """Each table's columns (name, type, nullable; in any order: a column added back on a
    downgrade comes last) and indexes (name, columns, unique)."""
    inspector = inspect(engine)
    return {
        table: (
            sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)),
            sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)),
        )
        for table in sorted(set(inspector.get_table_names()) - {"alembic_version"})
    }


FIRST_REVISION = "0001"


def _add_a_company_its_owner_and_a_lead(engine) -> None:
    """Rows as the first revision's schema has them: every later migration runs over them."""
    now = datetime(2026, 1, 5, 9, 30)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO companies (id, name, subscription_id, plan, max_users, max_quizzes, is_active,"
                " currency, created_at, updated_at)"
                " VALUES (1, 'Kept Co', 'kept-co', 'FREE', 5, 5, 1, 'EUR', :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO users (id, company_id, username, name, role, password_hash, is_active,"
                " must_change_password, session_version, failed_logins, created_at, updated_at)"
                " VALUES (1, 1, 'owner', 'Kept Owner', 'OWNER', 'x', 1, 0, 1, 0, :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO stages (id, company_id, name, color, position, kind, created_at)"
                " VALUES (1, 1, 'New', '#64748b', 0, 'open', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO leads (id, company_id, name, source, stage_id, position, owner_id, consent, version,"
                " created_at, updated_at) VALUES (1, 1, 'Kept Lead', 'manual', 1, 1000, 1, 0, 1, :now, :now)"
            ),
            {"now": now},
        )


KEPT = {"companies": 1, "users": 1, "leads": 1, "owned leads": 1}


def _kept_rows(engine) -> dict[str, int]:
    """The rows of the company, its owner and its lead, and whether the lead is still
    the owner's (a rebuilt users table would null it)."""
    with engine.connect() as connection:
        counts = {table: connection.scalar(text(f"SELECT COUNT(*) FROM {table}")) for table in ("companies", "users")}
        counts["leads"] = connection.scalar(text("SELECT COUNT(*) FROM leads"))
        counts["owned leads"] = connection.scalar(text("SELECT COUNT(*) FROM leads WHERE owner_id = 1"))
    return counts


@pytest.mark.slow
def test_each_downgrade_undoes_exactly_its_upgrade(empty_database):
    """One revision at a time, base first: the schema after a revision's downgrade is the
    schema before its upgrade (a downgrade that leaves its column behind, or drops too much,
    fails here, which the round trip through base cannot see). A company, its owner and a
    lead of the owner's are there from the first revision on: each upgrade runs over
    existing rows, and neither an upgrade nor a downgrade loses them (on SQLite, a table
    rebuilt in batch mode with foreign keys on would cascade to, or null, its rows'
    references)."""
    cfg, engine = empty_database
    script = ScriptDirectory.from_config(cfg)
    order = list(reversed(list(script.walk_revisions("base", "heads"))))
    assert order[0].revision == FIRST_REVISION
    steps = []
    for revision in order:
        before = _schema(engine)
        command.upgrade(cfg, revision.revision)
        if revision.revision == FIRST_REVISION:
            _add_a_company_its_owner_and_a_lead(engine)
        assert _kept_rows(engine) == KEPT, f"the upgrade to {revision.revision}"
        steps.append((revision, before))
    for revision, before in reversed(steps):
        target = revision.down_revision or f"{revision.branch_labels and next(iter(revision.branch_labels))}@base"
        command.downgrade(cfg, target)
        assert _schema(engine) == before, f"the downgrade of {revision.revision} does not undo its upgrade"
        if revision.revision != FIRST_REVISION:
            assert _kept_rows(engine) == KEPT, f"the downgrade of {revision.revision}"
    assert _tables(engine) == set()


def test_the_models_match_the_migrations_for_every_table(backend):
    assert _differences(backend.engine) == []
