"""``orbitflow backup``: one gzip file, written beside its final name and renamed when whole."""

from __future__ import annotations

import gzip
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData
from sqlalchemy.engine import Engine

from orbitflow import __version__
from orbitflow.backups import logical, native
from orbitflow.backups.header import LOGICAL, MARIADB_DUMP, BackupHeader
from orbitflow.config import DatabaseSettings, Settings
from orbitflow.migrations import current_heads
from orbitflow.models.meta import utcnow


class BackupFailed(RuntimeError):
    """The backup could not be written; no file is left under the output name."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    format: str
    size: int
    tables: int | None
    rows: int | None


def choose_format(database: DatabaseSettings, wanted: str) -> str:
    if wanted == LOGICAL:
        return LOGICAL
    if wanted == MARIADB_DUMP:
        if database.is_sqlite:
            raise BackupFailed("mariadb-dump backs up MariaDB databases only; use --format logical for SQLite")
        if native.dump_tool() is None:
            raise BackupFailed("mariadb-dump is not installed (apt-get install mariadb-client); or --format logical")
        return MARIADB_DUMP
    if not database.is_sqlite and native.dump_tool() is not None:
        return MARIADB_DUMP
    return LOGICAL


def _header(format: str, engine: Engine, migrations: frozenset[str]) -> str:
    return BackupHeader(
        format=format,
        migrations=tuple(sorted(migrations)),
        created_at=utcnow().isoformat(timespec="seconds") + "Z",
        orbitflow_version=__version__,
        source_backend=engine.dialect.name,
    ).line()


def write_backup(settings: Settings, engine: Engine, output: Path, wanted: str = "auto") -> BackupResult:
    database = settings.database
    format = choose_format(database, wanted)
    output = output.resolve()
    if output.is_dir():
        raise BackupFailed(f"{output} is a folder; give the backup file's name")
    if not output.parent.is_dir():
        raise BackupFailed(f"the folder {output.parent} does not exist")
    # Backups hold password hashes and tokens: readable by their owner only.
    descriptor, temporary = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=output.parent)
    tables = rows = None
    try:
        with os.fdopen(descriptor, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", filename="") as zipped:
            if format == LOGICAL:
                stats = _write_logical(engine, logical.model_metadata(settings.plugins), zipped)
                tables, rows = stats.tables, stats.rows
            else:
                with engine.connect() as connection:
                    migrations = current_heads(connection)
                zipped.write(_header(format, engine, migrations).encode("utf-8"))
                native.dump(database, native.dump_tool(), zipped)
            zipped.flush()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temporary, output)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, native.ToolFailed):
            raise BackupFailed(str(error)) from None
        raise
    return BackupResult(output, format, output.stat().st_size, tables, rows)


def _write_logical(engine: Engine, models: MetaData, zipped: gzip.GzipFile) -> logical.DumpStats:
    text = io.TextIOWrapper(zipped, encoding="utf-8", newline="\n")
    try:
        return logical.dump(engine, models, text, lambda migrations: _header(LOGICAL, engine, migrations))
    finally:
        text.flush()
        text.detach()
