"""``initializedb CONFIG_URI [--demo]`` and ``alembic upgrade heads``, run as processes."""

from __future__ import annotations

import configparser
import shutil

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from foundation.helpers import ROOT, VENV_BIN, base_env, nonblank_lines, run
from orbitflow.accounts.passwords import verify_password
from orbitflow.config import load_settings
from orbitflow.migrations import alembic_config, current_heads, migration_state, upgrade_to_heads

DEVELOPMENT_INI = ROOT / "development.ini"
ROLES = {"OWNER", "ADMIN", "MANAGER", "AGENT", "VIEWER"}


@pytest.fixture
def database_url(backend_name, request, tmp_path) -> str:
    if backend_name == "sqlite":
        return f"sqlite:///{tmp_path / 'init.sqlite'}"
    return request.getfixturevalue("new_mariadb_database")()


def initializedb(url: str, tmp_path, *args: str):
    env = base_env(tmp_path, DATABASE_URL=url)
    return run(["initializedb", DEVELOPMENT_INI, *args], env, cwd=tmp_path, timeout=300)


def users(url: str) -> dict[tuple[str, str], dict]:
    settings = load_settings({"sqlalchemy.url": url, "orbitflow.auth_secret": "x" * 32}, environ={})
    engine = create_engine(settings.database.url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("users"):
                return {}
            rows = connection.execute(
                text(
                    "SELECT c.subscription_id, u.username, u.role, u.must_change_password, u.password_hash "
                    "FROM users u JOIN companies c ON c.id = u.company_id"
                )
            ).mappings()
            return {(row["subscription_id"], row["username"]): dict(row) for row in rows}
    finally:
        engine.dispose()


def scalars(url: str, *queries: str) -> list:
    settings = load_settings({"sqlalchemy.url": url, "orbitflow.auth_secret": "x" * 32}, environ={})
    engine = create_engine(settings.database.url)
    try:
        with engine.connect() as connection:
            return [connection.scalar(text(query)) for query in queries]
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    settings = load_settings({"sqlalchemy.url": url, "orbitflow.auth_secret": "x" * 32}, environ={})
    engine = create_engine(settings.database.url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_demo_creates_the_seed_accounts_and_is_safe_to_run_twice(database_url, tmp_path):
    first = initializedb(database_url, tmp_path, "--demo")
    assert first.returncode == 0, first.stderr
    said = first.stdout
    assert "Migrated the database to " in said
    assert "Created the platform company." in said
    assert "Created super admin 'superadmin' (password change required at first login)." in said
    assert "Created demo company 'demo'." in said
    accounts = users(database_url)
    admin = accounts[("platform", "superadmin")]
    assert admin["role"] == "SUPER_ADMIN"
    assert admin["must_change_password"]
    assert verify_password(admin["password_hash"], "SuperAdmin@123")
    assert {row["role"] for (company, _), row in accounts.items() if company == "demo"} == ROLES
    # The dashboard counts every demo lead (the demo writes its leads in bulk).
    assert "Built the analytics counts of " in said
    leads, counted = scalars(
        database_url,
        "SELECT COUNT(*) FROM leads l JOIN companies c ON c.id = l.company_id WHERE c.subscription_id = 'demo'",
        "SELECT SUM(d.leads) FROM analytics_lead_daily d JOIN companies c ON c.id = d.company_id "
        "WHERE c.subscription_id = 'demo'",
    )
    assert leads > 0 and counted == leads

    second = initializedb(database_url, tmp_path, "--demo")
    assert second.returncode == 0, second.stderr
    assert "Database schema is current" in second.stdout
    assert "Platform company exists." in second.stdout
    assert "Super admin 'superadmin' exists." in second.stdout
    assert "Demo company 'demo' exists; demo data left as it is." in second.stdout
    assert users(database_url).keys() == accounts.keys()


def test_without_demo_and_without_a_terminal_it_asks_for_the_credentials(database_url, tmp_path):
    result = initializedb(database_url, tmp_path)
    assert result.returncode != 0
    assert nonblank_lines(result.stderr) == [
        "orbitflow: no super admin yet: pass --username and --password (or run with --demo)"
    ]
    assert users(database_url) == {}
    assert table_names(database_url) == set(), "nothing is migrated before the credentials are known"


def test_username_and_password_create_a_super_admin(database_url, tmp_path):
    password = "Orbit-Admin-Pass-7"
    result = initializedb(database_url, tmp_path, "--username", "root-admin", "--password", password)
    assert result.returncode == 0, result.stderr
    assert "Created super admin 'root-admin'." in result.stdout
    assert password not in result.stdout + result.stderr
    admin = users(database_url)[("platform", "root-admin")]
    assert admin["role"] == "SUPER_ADMIN"
    assert not admin["must_change_password"]
    assert verify_password(admin["password_hash"], password)
    # Run again: the admin exists, nothing changes.
    again = initializedb(database_url, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Super admins exist: root-admin." in again.stdout


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short-1", "Use at least 10 characters."),
        ("root-admin-2024", "The password must not contain the username."),
        ("aaaaaaaaaaaa", "Use a less repetitive password."),
    ],
)
def test_password_rules_are_enforced(password, rule, tmp_path):
    url = f"sqlite:///{tmp_path / 'rules.sqlite'}"
    result = initializedb(url, tmp_path, "--username", "root-admin", "--password", password)
    assert result.returncode != 0
    [line] = nonblank_lines(result.stderr)
    assert line.startswith("orbitflow: password refused: ")
    assert rule in line
    assert password not in line
    assert table_names(url) == set()


def test_unreachable_database_is_one_line(tmp_path):
    result = initializedb("mysql://orbit:pw-not-shown@127.0.0.1:1/orbitflow", tmp_path, "--demo")
    assert result.returncode != 0
    [line] = nonblank_lines(result.stderr)
    assert line.startswith("orbitflow: cannot reach the database: ")
    assert "pw-not-shown" not in line


def test_alembic_upgrade_heads_works_from_the_checkout(tmp_path):
    """The developer's command: ``.venv/bin/alembic -c development.ini upgrade heads``."""
    ini = tmp_path / "development.ini"
    shutil.copy(DEVELOPMENT_INI, ini)
    (tmp_path / "var").mkdir()
    env = base_env(tmp_path)
    result = run([VENV_BIN / "alembic", "-c", ini, "upgrade", "heads"], env, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    database = tmp_path / "var" / "orbitflow.sqlite"
    assert database.exists()
    parser = configparser.ConfigParser(defaults={"here": str(tmp_path)})
    parser.read(ini)
    settings = load_settings(dict(parser.items("app:main")), environ={})
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        applied = frozenset(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    engine.dispose()
    assert migration_state(ScriptDirectory.from_config(alembic_config(settings)), applied) == "current"
    # And again: nothing to do.
    assert run([VENV_BIN / "alembic", "-c", ini, "upgrade", "heads"], env, cwd=ROOT).returncode == 0


def test_migration_state(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    settings = load_settings(
        {"sqlalchemy.url": url, "orbitflow.auth_secret": "x" * 32, "orbitflow.plugins": "quiz pixels analytics"},
        environ={},
    )
    cfg = alembic_config(settings)
    script = ScriptDirectory.from_config(cfg)
    assert migration_state(script, frozenset()) == "not initialized"
    assert migration_state(script, frozenset(script.get_heads())) == "current"
    assert migration_state(script, frozenset({"f00dcafe"})) == "unknown"
    # What Alembic really stores after upgrading every branch (a plugin branch that depends
    # on the core's revision may stand for it) counts as current.
    upgrade_to_heads(cfg)
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = current_heads(connection)
    engine.dispose()
    assert migration_state(script, stored) == "current"
    # Only the core's first revision: everything after it is pending.
    assert migration_state(script, frozenset({"0001"})) == "pending"
