"""``orbitflow restore``: into an empty database, after checking the dump's migrations.

The data's schema is rebuilt first (migrating to the dump's own revisions for a logical
dump; the SQL of a mariadb-dump brings its own), the rows go in, and then the database is
migrated to this code's newest revision, as ``initializedb`` would.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from orbitflow.backups import logical, native
from orbitflow.backups.header import LOGICAL, BackupHeader, NotABackup, parse_header
from orbitflow.config import DatabaseSettings, Settings
from orbitflow.migrations import alembic_config, migration_state, upgrade_to_heads


class RestoreRefused(RuntimeError):
    """Nothing was changed; the message says why."""


@dataclass(frozen=True)
class RestoreResult:
    header: BackupHeader
    tables: int | None
    rows: int | None
    migrated: bool


def check_migrations(settings: Settings, engine: Engine, header: BackupHeader) -> bool:
    """Refuse a dump this code cannot read; True when it needs migrating after the restore."""
    script = ScriptDirectory.from_config(alembic_config(settings, engine))
    state = migration_state(script, frozenset(header.migrations))
    if state == "unknown":
        raise RestoreRefused(
            "the backup's migrations ("
            + ", ".join(header.migrations)
            + f") are unknown to this code: it was taken by OrbitFlow {header.orbitflow_version} or with "
            "other plugins enabled; restore it with that version and those plugins"
        )
    if state == "not initialized":
        raise RestoreRefused("the backup holds no migrations: it was taken of a database initializedb never ran on")
    return state == "pending"


def table_names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return inspect(connection).get_table_names()


def drop_everything(engine: Engine) -> None:
    """``--force``: remove every table of the target database first."""
    with engine.connect() as connection:
        _foreign_keys(connection, on=False)
        for name in inspect(connection).get_table_names():
            connection.execute(text(f"DROP TABLE {connection.dialect.identifier_preparer.quote(name)}"))
        connection.commit()
        _foreign_keys(connection, on=True)
        connection.commit()


def _foreign_keys(connection: Connection, on: bool) -> None:
    """Outside a transaction on SQLite (the pragma is ignored inside one)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    else:
        connection.exec_driver_sql(f"SET FOREIGN_KEY_CHECKS={1 if on else 0}")


def restore_backup(settings: Settings, engine: Engine, path: Path, force: bool = False) -> RestoreResult:
    with gzip.open(path, "rb") as raw:
        try:
            header = parse_header(raw.readline(64 * 1024).decode("utf-8"))
        except (OSError, EOFError, UnicodeDecodeError):
            raise RestoreRefused(f"{path} is not a gzip'd OrbitFlow backup") from None
        except NotABackup as error:
            raise RestoreRefused(f"{path}: {error}") from None
        return _restore(settings, engine, header, raw, force)


def _restore(settings: Settings, engine: Engine, header: BackupHeader, raw, force: bool) -> RestoreResult:
    needs_upgrade = check_migrations(settings, engine, header)
    if header.format != LOGICAL:
        _check_native_target(settings.database)
    existing = table_names(engine)
    if existing and not force:
        raise RestoreRefused(
            f"the database is not empty ({len(existing)} tables); restore into a new database, "
            "or pass --force to replace everything in it"
        )
    if existing:
        drop_everything(engine)
    tables = rows = None
    if header.format == LOGICAL:
        stats = _restore_logical(settings, engine, header, raw)
        tables, rows = stats.tables, stats.rows
    else:
        try:
            native.load(settings.database, native.client_tool(), raw)
        except native.ToolFailed as error:
            raise RestoreRefused(str(error)) from None
    if needs_upgrade:
        upgrade_to_heads(alembic_config(settings, engine))
    return RestoreResult(header, tables, rows, needs_upgrade)


def _check_native_target(database: DatabaseSettings) -> None:
    if database.is_sqlite:
        raise RestoreRefused("this backup was written by mariadb-dump and restores into MariaDB only")
    if native.client_tool() is None:
        raise RestoreRefused(
            "this backup was written by mariadb-dump: restoring it needs the mariadb client "
            "(apt-get install mariadb-client)"
        )


def _restore_logical(settings: Settings, engine: Engine, header: BackupHeader, raw) -> logical.DumpStats:
    cfg = alembic_config(settings, engine)
    for revision in header.migrations:
        command.upgrade(cfg, revision)
    text_stream = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
    try:
        with engine.connect() as connection:
            _foreign_keys(connection, on=False)
            # Rows the migrations seeded are replaced by the backup's own.
            for table in reversed(logical.reflect(connection).sorted_tables):
                if table.name != "alembic_version":
                    connection.execute(table.delete())
            stats = logical.load(connection, logical.model_metadata(settings.plugins), iter(text_stream))
            connection.commit()
            _foreign_keys(connection, on=True)
            connection.commit()
    except logical.DamagedBackup as error:
        drop_everything(engine)
        raise RestoreRefused(f"the backup is damaged: {error}; the database was left empty") from None
    finally:
        text_stream.detach()
    return stats
