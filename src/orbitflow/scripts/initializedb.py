"""``initializedb CONFIG_URI [--demo]``: migrate, then create the platform and a super admin.

Safe to run twice: existing companies and users are left as they are.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from alembic.script import ScriptDirectory
from sqlalchemy import select
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import hash_password, password_problems
from orbitflow.config import ConfigError
from orbitflow.db import make_engine, make_session_factory, unscoped
from orbitflow.migrations import alembic_config, current_heads, migration_state, upgrade_to_heads
from orbitflow.plugins import make_plugin_manager
from orbitflow.scripts.common import fail, one_line, settings_from_uri
from orbitflow.tenants.models import PLATFORM_SUBSCRIPTION_ID, Company
from orbitflow.tenants.services import create_company

DEMO_SUPERADMIN = ("superadmin", "SuperAdmin@123")
NO_CREDENTIALS = "no super admin yet: pass --username and --password (or run with --demo)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="initializedb", description=__doc__.splitlines()[0])
    parser.add_argument("config_uri", help="the INI file, e.g. production.ini")
    parser.add_argument("--demo", action="store_true", help="add the demo company, its users and data")
    parser.add_argument("--username", help="the super admin's username (prompted when missing)")
    parser.add_argument("--password", help="the super admin's password (prompted when missing)")
    parser.add_argument("--email", help="the super admin's email")
    return parser.parse_args(argv)


def ensure_platform(session: Session) -> tuple[Company, bool]:
    company = session.scalar(select(Company).where(Company.subscription_id == PLATFORM_SUBSCRIPTION_ID))
    if company is not None:
        return company, False
    return create_company(
        session, name="OrbitFlow Platform", subscription_id=PLATFORM_SUBSCRIPTION_ID, plan="ENTERPRISE"
    ), True


def ensure_user(
    session: Session,
    company: Company,
    username: str,
    password: str,
    role: str,
    *,
    name: str = "",
    email: str | None = None,
    must_change_password: bool = False,
) -> tuple[User, bool]:
    user = session.scalar(select(User).where(User.company_id == company.id, User.username == username))
    if user is not None:
        return user, False
    user = User(
        company_id=company.id,
        username=username,
        name=name,
        email=email,
        role=role,
        password_hash=hash_password(password),
        must_change_password=must_change_password,
    )
    session.add(user)
    session.flush()
    return user, True


def _check_given_credentials(args: argparse.Namespace) -> None:
    """Refuse bad options before anything is migrated or written."""
    if args.password is not None and not args.username and not sys.stdin.isatty():
        fail("--password needs --username")
    if args.password is not None:
        _refuse_weak(args.password, args.username or "")


def _refuse_weak(password: str, username: str) -> None:
    problems = password_problems(password, username=username, company_slug=PLATFORM_SUBSCRIPTION_ID)
    if problems:
        fail("password refused: " + " ".join(problems))


def _must_prompt_without_terminal(args: argparse.Namespace) -> bool:
    return not sys.stdin.isatty() and (not args.username or not args.password)


def _super_admin_credentials(args: argparse.Namespace) -> tuple[str, str]:
    if _must_prompt_without_terminal(args):
        fail(NO_CREDENTIALS)
    username = args.username or input("Super admin username: ").strip()
    password = args.password
    while not password:
        first = getpass.getpass("Super admin password: ")
        if first != getpass.getpass("Again: "):
            print("The passwords differ; try again.")
            continue
        password = first
    _refuse_weak(password, username)
    return username, password


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = settings_from_uri(args.config_uri)
    try:
        engine = (
            make_engine(settings.database, pool_size=2)
            if not settings.database.is_sqlite
            else make_engine(settings.database)
        )
        cfg = alembic_config(settings, engine)
        pm = make_plugin_manager(settings.plugins)
    except ConfigError as error:
        fail(f"configuration error: {error}")
    _check_given_credentials(args)
    try:
        with engine.connect() as connection:
            before = current_heads(connection)
    except Exception as error:
        fail(f"cannot reach the database: {one_line(error)}", code=1)
    if not before and not args.demo and _must_prompt_without_terminal(args):
        # A new database needs a super admin: say so before migrating anything.
        fail(NO_CREDENTIALS)
    upgrade_to_heads(cfg)
    with engine.connect() as connection:
        after = current_heads(connection)
    if before == after:
        print(f"Database schema is current ({', '.join(sorted(after))}).")
    else:
        print(f"Migrated the database to {', '.join(sorted(after))}.")
    if migration_state(ScriptDirectory.from_config(cfg), after) != "current":
        fail("migrations did not reach the newest revision of every branch", code=1)

    session = make_session_factory(engine)()
    with unscoped(session):
        platform, created = ensure_platform(session)
        print("Created the platform company." if created else "Platform company exists.")
        admins = session.scalars(select(User).where(User.company_id == platform.id, User.role == "SUPER_ADMIN")).all()
        if args.demo:
            _, created = ensure_user(
                session, platform, *DEMO_SUPERADMIN, "SUPER_ADMIN", name="Super Admin", must_change_password=True
            )
            print(
                f"Created super admin {DEMO_SUPERADMIN[0]!r} (password change required at first login)."
                if created
                else f"Super admin {DEMO_SUPERADMIN[0]!r} exists."
            )
        elif args.username or not admins:
            username, password = _super_admin_credentials(args)
            _, created = ensure_user(session, platform, username, password, "SUPER_ADMIN", email=args.email)
            print(
                f"Created super admin {username!r}." if created else f"Super admin {username!r} exists; left unchanged."
            )
        else:
            print(f"Super admins exist: {', '.join(admin.username for admin in admins)}.")
        if args.demo:
            from orbitflow.scripts.demo import create_demo_data

            for line in create_demo_data(session, pm):
                print(line)
        session.commit()
    session.close()
    engine.dispose()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
