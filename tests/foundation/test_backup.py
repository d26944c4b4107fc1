"""``orbitflow backup`` and ``orbitflow restore``, run as processes on real databases.

The source is the demo data of ``initializedb --demo`` plus a row in each table the demo
leaves empty; a round trip must give back every row of every table."""

from __future__ import annotations

import gzip
import os
import shutil
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from foundation.helpers import ROOT, base_env, nonblank_lines, run
from orbitflow.accounts.models import ApiKey
from orbitflow.backups.header import BackupHeader, read_header
from orbitflow.leads.models import LeadImport
from orbitflow.syslog.models import SystemLogEntry
from orbitflow.tenants.models import Company
from orbitflow_plugins.quiz.models import QuizContactKey
from tables import engine_for, every_row

INI = ROOT / "development.ini"
FILLED_BY_TEST = {"api_keys", "system_log", "lead_imports", "quiz_contact_keys"}


def orbitflow(url: str, cwd: Path, *args: str):
    return run(["orbitflow", *args], base_env(cwd, DATABASE_URL=url), cwd=cwd, timeout=300)


def every_row_as_the_models_read_it(url: str) -> dict[str, list[tuple]]:
    """Every row of the models' tables, read with the models' types (booleans, JSON), so
    that two kinds of database compare."""
    import orbitflow.models.all  # noqa: F401
    import orbitflow_plugins.quiz.models  # noqa: F401
    from orbitflow.models.meta import Base

    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key))]
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def whole_seconds(tables: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    def cut(value):
        return value.replace(microsecond=0) if isinstance(value, datetime) else value

    return {name: [tuple(cut(value) for value in row) for row in rows] for name, rows in tables.items()}


def add_rows_the_demo_lacks(url: str) -> None:
    engine = engine_for(url)
    with Session(engine) as session:
        session.info["tenant_bypass"] = True
        demo = session.scalar(select(Company).where(Company.subscription_id == "demo"))
        session.add(ApiKey(company_id=demo.id, name="Zapier", role="AGENT", prefix="of_abcd", key_hash="f" * 64))
        message = "boom \u2603 'quoted'"
        session.add(SystemLogEntry(level="ERROR", source="SERVER_ACTION", message=message, stack="Traceback\n  x"))
        session.add(LeadImport(company_id=demo.id, filename="leads.csv", content="name\nAda\n", options={"a": [1, 2]}))
        session.add(QuizContactKey(company_id=demo.id, email_hash="e" * 64))
        session.commit()
    engine.dispose()


@pytest.fixture(scope="module")
def source(backend_name, request, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("source")
    if backend_name == "sqlite":
        url = f"sqlite:///{folder / 'source.sqlite'}"
    else:
        url = request.getfixturevalue("new_mariadb_database")()
    result = run(["initializedb", INI, "--demo"], base_env(folder, DATABASE_URL=url), cwd=folder, timeout=300)
    assert result.returncode == 0, result.stderr
    add_rows_the_demo_lacks(url)
    return url


@pytest.fixture
def target(source, tmp_path, request) -> str:
    if source.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored.sqlite'}"
    return request.getfixturevalue("new_mariadb_database")()


def formats_for(url: str) -> list[str]:
    formats = ["logical"]
    if not url.startswith("sqlite") and shutil.which("mariadb-dump") and shutil.which("mariadb"):
        formats.append("mariadb-dump")
    return formats


def test_round_trip_gives_back_every_row_of_every_table(source, target, tmp_path, request):
    before = every_row(source)
    assert all(before[name] for name in FILLED_BY_TEST)
    assert sum(1 for rows in before.values() if rows) >= 19
    for number, format in enumerate(formats_for(source)):
        destination = target if number == 0 else request.getfixturevalue("new_mariadb_database")()
        backup = tmp_path / f"orbitflow-{format}.sql.gz"
        written = orbitflow(source, tmp_path, "backup", str(INI), "--output", str(backup), "--format", format)
        assert written.returncode == 0, written.stderr
        assert written.stdout.startswith(f"Backup written: {backup} ({format}")
        assert oct(backup.stat().st_mode & 0o777) == "0o600"
        assert read_header(backup).format == format
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]

        restored = orbitflow(destination, tmp_path, "restore", str(INI), str(backup))
        assert restored.returncode == 0, restored.stderr
        assert restored.stdout.startswith("Restored ")
        assert every_row(destination) == before, format
    # The restored database is one the app accepts as it is.
    check = orbitflow(target, tmp_path, "check", str(INI))
    assert check.returncode == 0, check.stderr


@pytest.mark.mariadb_only
def test_a_logical_backup_of_sqlite_restores_into_mariadb(tmp_path, new_mariadb_database):
    url = f"sqlite:///{tmp_path / 'small.sqlite'}"
    result = run(["initializedb", INI, "--demo"], base_env(tmp_path, DATABASE_URL=url), cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    add_rows_the_demo_lacks(url)
    backup = tmp_path / "small.gz"
    assert orbitflow(url, tmp_path, "backup", str(INI), "--output", str(backup)).returncode == 0
    mariadb = new_mariadb_database()
    restored = orbitflow(mariadb, tmp_path, "restore", str(INI), str(backup))
    assert restored.returncode == 0, restored.stderr
    assert set(every_row(mariadb)) == set(every_row(url))
    # MariaDB's DATETIME columns keep whole seconds; SQLite kept the microseconds.
    assert every_row_as_the_models_read_it(mariadb) == whole_seconds(every_row_as_the_models_read_it(url))


def test_restore_refuses_a_database_that_is_not_empty_unless_forced(source, target, tmp_path):
    backup = tmp_path / "b.gz"
    assert orbitflow(source, tmp_path, "backup", str(INI), "--output", str(backup)).returncode == 0
    assert orbitflow(target, tmp_path, "restore", str(INI), str(backup)).returncode == 0
    engine = engine_for(target)
    with engine.begin() as connection:
        connection.execute(text("UPDATE companies SET name = 'Changed after the backup'"))
    engine.dispose()
    changed = every_row(target)

    again = orbitflow(target, tmp_path, "restore", str(INI), str(backup))
    assert again.returncode == 1
    assert nonblank_lines(again.stderr)[-1].startswith("orbitflow: restore refused: the database is not empty (")
    assert every_row(target) == changed

    forced = orbitflow(target, tmp_path, "restore", str(INI), str(backup), "--force")
    assert forced.returncode == 0, forced.stderr
    assert every_row(target) == every_row(source)


def rewrite(backup: Path, destination: Path, edit) -> None:
    with gzip.open(backup, "rt", encoding="utf-8") as stream:
        lines = stream.readlines()
    with gzip.open(destination, "wt", encoding="utf-8") as stream:
        stream.writelines(edit(lines))


def test_restore_refuses_migrations_this_code_does_not_know_and_damaged_files(source, target, tmp_path):
    backup = tmp_path / "b.gz"
    written = orbitflow(source, tmp_path, "backup", str(INI), "--output", str(backup), "--format", "logical")
    assert written.returncode == 0
    header = read_header(backup)

    future = tmp_path / "future.gz"
    newer = BackupHeader(**{**header.__dict__, "migrations": ("0099_from_the_future",), "orbitflow_version": "9.0"})
    rewrite(backup, future, lambda lines: [newer.line(), *lines[1:]])
    refused = orbitflow(target, tmp_path, "restore", str(INI), str(future))
    assert refused.returncode == 1
    assert "restore refused: the backup's migrations (0099_from_the_future) are unknown to this code" in refused.stderr
    assert "OrbitFlow 9.0" in refused.stderr

    cut = tmp_path / "cut.gz"
    rewrite(backup, cut, lambda lines: lines[: len(lines) // 2])
    damaged = orbitflow(target, tmp_path, "restore", str(INI), str(cut))
    assert damaged.returncode == 1
    assert "the backup is damaged: the backup ends before its last line" in damaged.stderr
    assert every_row(target) == {}

    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello")
    wrong = orbitflow(target, tmp_path, "restore", str(INI), str(not_a_backup))
    assert wrong.returncode == 1
    assert nonblank_lines(wrong.stderr) == [
        f"orbitflow: restore refused: {not_a_backup} is not a gzip'd OrbitFlow backup"
    ]


def test_keep_days_prunes_only_old_backups(tmp_path):
    url = f"sqlite:///{tmp_path / 'small.sqlite'}"
    assert run(["initializedb", INI, "--demo"], base_env(tmp_path, DATABASE_URL=url), cwd=tmp_path).returncode == 0
    folder = tmp_path / "backups"
    folder.mkdir()
    old, recent = folder / "orbitflow_old.sql.gz", folder / "orbitflow_recent.sql.gz"
    for path in (old, recent):
        assert orbitflow(url, tmp_path, "backup", str(INI), "--output", str(path)).returncode == 0
    unrelated = folder / "holiday-photos.gz"
    with gzip.open(unrelated, "wt") as stream:
        stream.write("not a backup")
    month_ago = time.time() - 31 * 86400
    for path in (old, unrelated):
        os.utime(path, (month_ago, month_ago))

    latest = folder / "orbitflow_latest.sql.gz"
    result = orbitflow(url, tmp_path, "backup", str(INI), "--output", str(latest), "--keep-days", "30")
    assert result.returncode == 0, result.stderr
    assert nonblank_lines(result.stdout)[-1] == "Deleted 1 backups older than 30 days."
    assert sorted(p.name for p in folder.iterdir()) == sorted([recent.name, latest.name, unrelated.name])


def test_bad_backup_arguments_are_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    missing_folder = orbitflow(url, tmp_path, "backup", str(INI), "--output", str(tmp_path / "no" / "b.gz"))
    assert missing_folder.returncode == 1
    assert nonblank_lines(missing_folder.stderr) == [
        f"orbitflow: backup failed: the folder {tmp_path / 'no'} does not exist"
    ]
    native_sqlite = orbitflow(
        url, tmp_path, "backup", str(INI), "--output", str(tmp_path / "b.gz"), "--format", "mariadb-dump"
    )
    assert nonblank_lines(native_sqlite.stderr)[-1] == (
        "orbitflow: backup failed: mariadb-dump backs up MariaDB databases only; use --format logical for SQLite"
    )
    keep = orbitflow(url, tmp_path, "backup", str(INI), "--output", str(tmp_path / "b.gz"), "--keep-days", "0")
    assert nonblank_lines(keep.stderr) == ["orbitflow: --keep-days must be at least 1"]
    no_file = orbitflow(url, tmp_path, "restore", str(INI), str(tmp_path / "nothing.gz"))
    assert nonblank_lines(no_file.stderr) == [f"orbitflow: no such backup file: {tmp_path / 'nothing.gz'}"]
