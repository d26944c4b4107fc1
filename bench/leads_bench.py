"""Server time of the pipeline board and the lead search with 10,000 leads in one company.

Creates its own MariaDB database (dropped afterwards unless --keep), migrates it with the
project's migrations, loads the leads in bulk, then times requests through the real WSGI
application (webtest, the same stack as production minus the socket): median and p95
over repeated requests, after a few warm-up requests.

    .venv/bin/python bench/leads_bench.py                    # MariaDB on 127.0.0.1:3306 as root
    .venv/bin/python bench/leads_bench.py --server mysql://user:pass@host:3306 --leads 10000 --repeat 100
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable

import webtest
from sqlalchemy import create_engine, event, text

from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import hash_password
from orbitflow.app import make_app
from orbitflow.config import load_settings, parse_database_url
from orbitflow.db import make_engine, make_session_factory, unscoped
from orbitflow.leads.demo import create_demo_leads
from orbitflow.migrations import alembic_config, upgrade_to_heads
from orbitflow.tenants.services import create_company

SECRET = "bench-secret-0123456789-0123456789-abcdef"
PASSWORD = "Bench-Password-42"
TARGETS_MS = {"board": 150.0, "search": 100.0}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server",
        default=os.environ.get("ORBITFLOW_BENCH_MARIADB", "mysql://root@127.0.0.1:3306"),
        help="MariaDB server URL without a database (default: $ORBITFLOW_BENCH_MARIADB or root on 127.0.0.1)",
    )
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=100, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def timed(call: Callable[[], webtest.TestResponse], repeat: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def login(client: webtest.TestApp, subscription_id: str, username: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    client.post(
        "/login",
        {"subscription_id": subscription_id, "username": username, "password": PASSWORD, "csrf_token": token},
        status=303,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    admin_url, _ = parse_database_url("--server", args.server.rstrip("/") + "/mysql")
    admin = create_engine(admin_url.set(database=None), isolation_level="AUTOCOMMIT")
    name = f"orbitflow_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    url = f"{args.server.rstrip('/')}/{name}"
    ini = {
        "sqlalchemy.url": url,
        "orbitflow.auth_secret": SECRET,
        "orbitflow.auth_url": "http://localhost",
        "orbitflow.plugins": "",
    }
    engine = make_engine(load_settings(ini, environ={}).database)
    try:
        started = time.perf_counter()
        upgrade_to_heads(alembic_config(load_settings(ini, environ={}), engine))
        session = make_session_factory(engine)()
        with unscoped(session):
            company = create_company(session, name="Bench Ltd", subscription_id="bench", plan="ENTERPRISE")
            for username, role in (("owner", "OWNER"), ("agent", "AGENT"), ("agent2", "AGENT"), ("manager", "MANAGER")):
                session.add(
                    User(
                        company_id=company.id,
                        username=username,
                        name=username.title(),
                        role=role,
                        password_hash=hash_password(PASSWORD),
                    )
                )
            session.flush()
            list(create_demo_leads(session, company.id, count=args.leads, seed=7))
            session.commit()
        session.close()
        with engine.connect() as connection:
            connection.execute(text("ANALYZE TABLE leads, lead_tags"))
        print(f"Loaded {args.leads:,} leads into {name} in {time.perf_counter() - started:.1f} s.")

        app = make_app(ini, environ={}, engine=engine)
        owner = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
        agent = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
        login(owner, "bench", "owner")
        login(agent, "bench", "agent")
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

        pages = [
            ("board", "board (owner, all leads)", owner, "/pipeline"),
            ("board", "board (agent: own + unassigned)", agent, "/pipeline"),
            ("board", "board filtered (source=quiz, tag=vip)", owner, "/pipeline?source=quiz&tag=vip"),
            ("search", "list search q=smith", owner, "/leads?q=smith"),
            ("search", "list search q=415 555 (phone)", owner, "/leads?q=415+555"),
            ("search", "API search q=garcia", owner, "/api/v1/leads?q=garcia"),
            ("search", "list, first page, no search", owner, "/leads"),
        ]
        print(f"\n{'page':42} {'median ms':>10} {'p95 ms':>8} {'SQL':>5}  target")
        failed = False
        for kind, label, client, path in pages:
            statements.clear()
            client.get(path)
            count = len(statements)
            times = timed(lambda client=client, path=path: client.get(path), args.repeat, args.warmup)
            median, p95 = statistics.median(times), percentile(times, 0.95)
            target = TARGETS_MS[kind]
            verdict = "ok" if p95 < target else "SLOW"
            failed = failed or p95 >= target
            print(f"{label:42} {median:10.1f} {p95:8.1f} {count:5d}  p95 < {target:.0f} ms {verdict}")
        leads_in = engine.dialect.name
        print(
            f"\n{args.repeat} timed requests per page after {args.warmup} warm-up requests; {leads_in}; "
            f"python {sys.version.split()[0]}."
        )
        return 1 if failed else 0
    finally:
        engine.dispose()
        if not args.keep:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        else:
            print(f"Kept database {name}.")
        admin.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
