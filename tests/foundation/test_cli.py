"""The ``orbitflow`` console script for operators, run as a process on a new SQLite file."""

from __future__ import annotations

import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select, text

from foundation.helpers import ROOT, base_env, nonblank_lines, run
from orbitflow.accounts.models import User, UserSession
from orbitflow.accounts.passwords import verify_password
from orbitflow.models.meta import utcnow
from orbitflow.syslog.models import SystemLogEntry

INI = ROOT / "development.ini"


def orbitflow(tmp_path, *args: str):
    env = base_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'ops.sqlite'}")
    return run(["orbitflow", *args], env, cwd=tmp_path, timeout=120)


@pytest.fixture(scope="module")
def initialised_file(tmp_path_factory) -> Path:
    """One database initialised by ``initializedb``; each test works on a copy."""
    folder = tmp_path_factory.mktemp("ops")
    env = base_env(folder, DATABASE_URL=f"sqlite:///{folder / 'ops.sqlite'}")
    result = run(
        ["initializedb", ROOT / "development.ini", "--username", "first-admin", "--password", "Orbit-Setup-Pass-1"],
        env,
        cwd=folder,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return folder / "ops.sqlite"


@pytest.fixture
def initialised(initialised_file, tmp_path) -> Path:
    shutil.copy(initialised_file, tmp_path / "ops.sqlite")
    return tmp_path


def test_check_says_what_is_missing_then_ok(tmp_path_factory, initialised):
    before = orbitflow(tmp_path_factory.mktemp("new"), "check", str(INI))
    assert before.returncode == 1
    assert "Migrations: not initialized." in before.stdout
    assert nonblank_lines(before.stderr)[-1] == (
        "orbitflow: the database needs `initializedb CONFIG_URI` before the app can serve"
    )
    after = orbitflow(initialised, "check", str(INI))
    assert after.returncode == 0, after.stderr
    assert "Settings: ok. Database: ok. Migrations: current." in after.stdout


def test_check_of_a_missing_file_is_one_line(tmp_path):
    result = orbitflow(tmp_path, "check", "no-such.ini")
    assert result.returncode != 0
    assert nonblank_lines(result.stderr) == ["orbitflow: no such configuration file: no-such.ini"]


def test_create_superadmin(initialised):
    tmp_path = initialised
    created = orbitflow(tmp_path, "create-superadmin", str(INI), "--username", "second", "--password", "Orbit-Other-77")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "Created super admin 'second'."
    engine = create_engine(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    with engine.connect() as connection:
        role, password_hash = connection.execute(
            text("SELECT role, password_hash FROM users WHERE username = 'second'")
        ).one()
    engine.dispose()
    assert role == "SUPER_ADMIN"
    assert verify_password(password_hash, "Orbit-Other-77")
    again = orbitflow(tmp_path, "create-superadmin", str(INI), "--username", "second", "--password", "Other-Pass-123")
    assert again.returncode == 1
    assert nonblank_lines(again.stderr) == ["orbitflow: user 'second' exists already in the platform company"]
    weak = orbitflow(tmp_path, "create-superadmin", str(INI), "--username", "third", "--password", "third-1234")
    assert weak.returncode != 0
    assert "password refused: The password must not contain the username." in weak.stderr


def test_purge_logs_deletes_only_old_entries(initialised):
    tmp_path = initialised
    engine = create_engine(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    now = utcnow()
    with engine.begin() as connection:
        for age in (1, 29, 31, 400):
            connection.execute(
                insert(SystemLogEntry).values(
                    level="ERROR", source="CLIENT", message=f"{age} days old", created_at=now - timedelta(days=age)
                )
            )
        admin = connection.execute(select(User.id, User.company_id).where(User.username == "first-admin")).one()
        for label, ended in (("ended-last-week", now - timedelta(days=7)), ("live", None)):
            connection.execute(
                insert(UserSession).values(
                    company_id=admin.company_id,
                    user_id=admin.id,
                    token_hash=label.ljust(64, "0"),
                    created_at=now - timedelta(days=8 if ended else 0),
                    last_seen_at=now - timedelta(days=8 if ended else 0),
                    ended_at=ended,
                    user_agent=label,
                )
            )
    result = orbitflow(tmp_path, "purge-logs", str(INI), "--older-than", "30")
    assert result.returncode == 0, result.stderr
    assert nonblank_lines(result.stdout) == [
        "Deleted 2 system log entries older than 30 days.",
        "Deleted 1 session and 0 two-factor sign-in challenges that ended or expired more than a day ago.",
    ]
    with engine.connect() as connection:
        assert connection.scalars(select(UserSession.user_agent)).all() == ["live"]
    with engine.connect() as connection:
        left = connection.scalars(select(SystemLogEntry.message).order_by(SystemLogEntry.created_at)).all()
        assert connection.scalar(select(func.count()).select_from(SystemLogEntry)) == 2
    engine.dispose()
    assert left == ["29 days old", "1 days old"]


def test_migrate_migrates_without_creating_anyone(tmp_path):
    first = orbitflow(tmp_path, "migrate", str(INI))
    assert first.returncode == 0, first.stderr
    assert nonblank_lines(first.stdout)[-1].startswith("Migrated the database to ")
    again = orbitflow(tmp_path, "migrate", str(INI))
    assert nonblank_lines(again.stdout)[-1].startswith("Database schema is current (")
    engine = create_engine(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM users")).scalar() == 0
    engine.dispose()


def test_migrate_waits_for_the_database_then_says_why_it_gave_up(tmp_path):
    env = base_env(tmp_path, DATABASE_URL="mysql://u:p@127.0.0.1:1/orbitflow")
    started = time.monotonic()
    result = run(["orbitflow", "migrate", str(INI), "--wait", "2"], env, cwd=tmp_path, timeout=120)
    assert result.returncode == 1
    assert time.monotonic() - started >= 2
    assert nonblank_lines(result.stderr)[-1].startswith("orbitflow: cannot reach the database: ")
