"""``orbitflow``: operators' commands.

orbitflow check CONFIG_URI                  settings, database and migrations, exit 1 when not ready
orbitflow create-superadmin CONFIG_URI --username NAME [--password P] [--email E]
orbitflow purge-logs CONFIG_URI --older-than DAYS   old system log; ended sessions and sign-in challenges
orbitflow worker CONFIG_URI [--once]        send outbox deliveries until SIGTERM (or until idle)
orbitflow migrate CONFIG_URI                migrate the core and the enabled plugins to their newest revision
orbitflow backup CONFIG_URI --output FILE [--keep-days N] [--format auto|logical|mariadb-dump]
orbitflow restore CONFIG_URI FILE [--force]
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

import plaster
from alembic.script import ScriptDirectory
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from orbitflow.accounts.cleanup import purge_sign_ins
from orbitflow.accounts.passwords import password_problems
from orbitflow.config import ConfigError
from orbitflow.db import make_session_factory, unscoped
from orbitflow.migrations import alembic_config, current_heads, migration_state, upgrade_to_heads
from orbitflow.models.meta import utcnow
from orbitflow.scripts.common import engine_from_settings, fail, one_line, settings_from_uri
from orbitflow.shared import shared
from orbitflow.syslog.models import SystemLogEntry
from orbitflow.tenants.models import PLATFORM_SUBSCRIPTION_ID, Company
from orbitflow.wording import plural


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="orbitflow", description="OrbitFlow operators' commands.")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="check settings, database and migrations")
    check.add_argument("config_uri")

    admin = commands.add_parser("create-superadmin", help="add a super admin to the platform company")
    admin.add_argument("config_uri")
    admin.add_argument("--username", required=True)
    admin.add_argument("--password", help="prompted when missing")
    admin.add_argument("--email")

    purge = commands.add_parser(
        "purge-logs",
        help="delete system log entries older than some days, and sessions and sign-in challenges that ended",
    )
    purge.add_argument("config_uri")
    purge.add_argument("--older-than", type=int, required=True, metavar="DAYS")

    worker = commands.add_parser("worker", help="send outbox deliveries (webhooks, e-mail, ...) until SIGTERM")
    worker.add_argument("config_uri")
    worker.add_argument("--once", action="store_true", help="send what is due now, then exit")
    migrate = commands.add_parser("migrate", help="migrate the database to the newest revision (no users created)")
    migrate.add_argument("config_uri")
    migrate.add_argument(
        "--wait", type=int, default=0, metavar="SECONDS", help="wait that long for the database to accept connections"
    )

    backup = commands.add_parser("backup", help="write a gzip'd consistent dump of the database")
    backup.add_argument("config_uri")
    backup.add_argument("--output", required=True, type=Path, metavar="FILE")
    backup.add_argument("--keep-days", type=int, metavar="N", help="then prune older backups there")
    backup.add_argument("--format", choices=("auto", "logical", "mariadb-dump"), default="auto")

    restore = commands.add_parser("restore", help="restore a backup into an empty database")
    restore.add_argument("config_uri")
    restore.add_argument("file", type=Path)
    restore.add_argument("--force", action="store_true", help="replace everything in a database that is not empty")

    rebuild = commands.add_parser(
        "analytics-rebuild", help="rebuild the analytics counts (daily leads and funnel) from the raw rows"
    )
    rebuild.add_argument("config_uri")
    rebuild.add_argument("--company", metavar="SUBSCRIPTION_ID", help="only this company")
    return parser.parse_args(argv)


def check(args: argparse.Namespace) -> int:
    settings = settings_from_uri(args.config_uri)
    engine = engine_from_settings(settings)
    try:
        cfg = alembic_config(settings, engine)
    except ConfigError as error:
        fail(f"configuration error: {error}")
    try:
        with engine.connect() as connection:
            applied = current_heads(connection)
    except Exception as error:
        fail(f"cannot reach the database: {one_line(error)}", code=1)
    finally:
        engine.dispose()
    state = migration_state(ScriptDirectory.from_config(cfg), applied)
    print(f"Settings: ok. Database: ok. Migrations: {state}. Plugins: {' '.join(settings.plugins) or 'none'}.")
    if state != "current":
        fail("the database needs `initializedb CONFIG_URI` before the app can serve", code=1)
    return 0


def create_superadmin(args: argparse.Namespace) -> int:
    from orbitflow.scripts.initializedb import ensure_user

    password = args.password
    if password is None:
        if not sys.stdin.isatty():
            fail("pass --password, or run in a terminal to be asked for it")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            fail("the passwords differ")
    problems = password_problems(password, username=args.username, company_slug=PLATFORM_SUBSCRIPTION_ID)
    if problems:
        fail("password refused: " + " ".join(problems))
    settings = settings_from_uri(args.config_uri)
    engine = engine_from_settings(settings)
    session = make_session_factory(engine)()
    try:
        with unscoped(session):
            platform = session.scalar(select(Company).where(Company.subscription_id == PLATFORM_SUBSCRIPTION_ID))
            if platform is None:
                fail("there is no platform company yet: run `initializedb CONFIG_URI` first", code=1)
            _, created = ensure_user(session, platform, args.username, password, "SUPER_ADMIN", email=args.email)
            if not created:
                fail(f"user {args.username!r} exists already in the platform company", code=1)
            session.commit()
    finally:
        session.close()
        engine.dispose()
    print(f"Created super admin {args.username!r}.")
    return 0


def purge_logs(args: argparse.Namespace) -> int:
    if args.older_than < 1:
        fail("--older-than must be at least 1 day")
    settings = settings_from_uri(args.config_uri)
    engine = engine_from_settings(settings)
    now = utcnow()
    try:
        with engine.begin() as connection:
            result = connection.execute(
                delete(SystemLogEntry).where(SystemLogEntry.created_at < now - timedelta(days=args.older_than))
            )
            purged = purge_sign_ins(connection, settings, now)
    finally:
        engine.dispose()
    print(f"Deleted {result.rowcount} system log entries older than {args.older_than} days.")
    print(
        f"Deleted {plural(purged.sessions, 'session')} and {plural(purged.challenges, 'two-factor sign-in challenge')}"
        " that ended or expired more than a day ago."
    )
    return 0


def worker(args: argparse.Namespace) -> int:
    """A dedicated delivery worker: the app's own set-up (plugins, channels, database),
    no web server. SIGTERM and SIGINT let the current cycle finish, then it exits."""
    from orbitflow.app import make_app
    from orbitflow.deliveries import worker_for

    settings_from_uri(args.config_uri)  # one clear line for a bad setting
    loader = plaster.get_loader(args.config_uri, protocols=["wsgi"])
    try:
        app = make_app(loader.get_settings("app:main"))
    except ConfigError as error:
        fail(f"configuration error: {error}")
    delivery_worker = worker_for(app.registry)
    if args.once:
        handled = delivery_worker.run_until_idle()
        print(f"Handled {handled} deliveries.")
        return 0

    def stop(signum, _frame) -> None:
        logging.getLogger(__name__).info("signal %s: stopping after the current cycle", signum)
        delivery_worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.getLogger(__name__).info("delivery worker running (pid %s)", os.getpid())
    delivery_worker.run()
    shared(app.registry, Engine).dispose()
    return 0


def migrate(args: argparse.Namespace) -> int:
    """Only the migrations of ``initializedb``: what the container runs with MIGRATE_ON_START."""
    settings = settings_from_uri(args.config_uri)
    engine = engine_from_settings(settings)
    try:
        cfg = alembic_config(settings, engine)
    except ConfigError as error:
        fail(f"configuration error: {error}")
    deadline = time.monotonic() + max(args.wait, 0)
    while True:
        try:
            with engine.connect() as connection:
                before = current_heads(connection)
            break
        except Exception as error:
            if time.monotonic() >= deadline:
                fail(f"cannot reach the database: {one_line(error)}", code=1)
            # A database container that starts beside the app takes a few seconds.
            time.sleep(1)
    try:
        upgrade_to_heads(cfg)
        with engine.connect() as connection:
            after = current_heads(connection)
    finally:
        engine.dispose()
    if before == after:
        print(f"Database schema is current ({', '.join(sorted(after))}).")
    else:
        print(f"Migrated the database to {', '.join(sorted(after))}.")
    return 0


def backup(args: argparse.Namespace) -> int:
    from orbitflow.backups import BackupFailed, write_backup
    from orbitflow.backups.retention import prune

    if args.keep_days is not None and args.keep_days < 1:
        fail("--keep-days must be at least 1")
    settings = settings_from_uri(args.config_uri)
    engine = engine_from_settings(settings)
    try:
        result = write_backup(settings, engine, args.output, args.format)
    except BackupFailed as error:
        fail(f"backup failed: {error}", code=1)
    except Exception as error:
        fail(f"backup failed: {one_line(error)}", code=1)
    finally:
        engine.dispose()
    counts = f", {result.rows} rows in {result.tables} tables" if result.rows is not None else ""
    print(f"Backup written: {result.path} ({result.format}{counts}, {result.size} bytes).")
    if args.keep_days is not None:
        deleted = prune(result.path.parent, args.keep_days, keep=result.path)
        print(f"Deleted {len(deleted)} backups older than {args.keep_days} days.")
    return 0


def restore(args: argparse.Namespace) -> int:
    from orbitflow.backups import RestoreRefused, restore_backup

    if not args.file.is_file():
        fail(f"no such backup file: {args.file}")
    settings = settings_from_uri(args.config_uri)
    engine = engine_from_settings(settings)
    try:
        result = restore_backup(settings, engine, args.file, force=args.force)
    except RestoreRefused as error:
        fail(f"restore refused: {error}", code=1)
    except Exception as error:
        fail(f"restore failed: {one_line(error)}", code=1)
    finally:
        engine.dispose()
    counts = f"{result.rows} rows in {result.tables} tables" if result.rows is not None else "the SQL dump"
    taken = f"taken {result.header.created_at} by OrbitFlow {result.header.orbitflow_version}"
    print(f"Restored {counts} from {args.file} ({taken}).")
    if result.migrated:
        print("The database was then migrated to this version's newest revision.")
    return 0


def analytics_rebuild(args: argparse.Namespace) -> int:
    settings = settings_from_uri(args.config_uri)
    if "analytics" not in settings.plugins:
        fail("the analytics plugin is not enabled (orbitflow.plugins / ORBITFLOW_PLUGINS)")
    from orbitflow_plugins.analytics.rebuild import rebuild

    engine = engine_from_settings(settings)
    try:
        with engine.connect() as connection:
            query = select(Company.id, Company.subscription_id).order_by(Company.id)
            if args.company:
                query = query.where(Company.subscription_id == args.company.strip().lower())
            companies = connection.execute(query).all()
        if args.company and not companies:
            fail(f"no company with subscription ID {args.company!r}")
        for company_id, subscription_id in companies:
            # One transaction per company: its counts are never seen half rebuilt.
            with engine.begin() as connection:
                totals = rebuild(connection, company_id)
            print(f"{subscription_id}: {totals['leads']} leads, {totals['events']} funnel events counted")
    finally:
        engine.dispose()
    return 0


COMMANDS = {
    "check": check,
    "create-superadmin": create_superadmin,
    "purge-logs": purge_logs,
    "migrate": migrate,
    "backup": backup,
    "restore": restore,
    "worker": worker,
    "analytics-rebuild": analytics_rebuild,
}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
