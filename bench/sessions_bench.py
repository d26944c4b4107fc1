"""Per-request cost of server-side sessions: an API GET and a page with the session cookie,
before (the commit before ``user_sessions``) and after (this tree), side by side.

The code before is checked out in a temporary ``git worktree``; each side runs in a child
process of its own (its ``src`` first on the path) against a throw-away MariaDB database
migrated by its own migrations. A user signs in through the login form, then the child
times ``GET /api/v1/me`` and ``GET /dashboard`` through the WSGI app (webtest: the whole
stack minus the socket). The sides alternate over several rounds, so a noisy machine
slows both alike; the ratio after/before is the number to read (target: at most 1.05).

    .venv/bin/python bench/sessions_bench.py                  # 3 rounds, 400 requests per target
    .venv/bin/python bench/sessions_bench.py --rounds 5 --repeat 1000 --before <commit>
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SESSIONS_MODULE = "src/orbitflow/accounts/sessions.py"
SECRET = "bench-secret-0123456789-0123456789-abcdef"
PASSWORD = "Bench-Password-42"
TARGETS = {"api": "/api/v1/me", "page": "/dashboard"}
MAX_RATIO = 1.05


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server",
        default=os.environ.get("ORBITFLOW_BENCH_MARIADB", "mysql://root@127.0.0.1:3306"),
        help="MariaDB server URL without a database",
    )
    parser.add_argument("--before", help="commit of the code before (default: the parent of the one adding sessions)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=400, help="timed requests per target and round")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--child", metavar="TREE", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout.strip()


def default_before() -> str:
    added = _git("log", "-1", "--format=%H", "--diff-filter=A", "--", SESSIONS_MODULE)
    return f"{added}^" if added else "HEAD"


# The child: one side, in its own interpreter.


def child(args: argparse.Namespace) -> int:
    tree = Path(args.child)
    import orbitflow

    # Migrations of this side: orbitflow.alembic is the tree's top-level alembic/ folder.
    orbitflow.__path__.insert(0, str(tree))
    import webtest
    from sqlalchemy import create_engine, text

    from orbitflow.accounts.models import User
    from orbitflow.accounts.passwords import hash_password
    from orbitflow.app import make_app
    from orbitflow.config import load_settings, parse_database_url
    from orbitflow.db import make_engine, make_session_factory, unscoped
    from orbitflow.migrations import alembic_config, upgrade_to_heads
    from orbitflow.tenants.services import create_company

    assert Path(orbitflow.__file__).is_relative_to(tree), orbitflow.__file__
    name = f"orbitflow_bench_{uuid.uuid4().hex[:10]}"
    url, _ = parse_database_url("--server", args.server.rstrip("/") + "/mysql")
    admin = create_engine(url.set(database=None), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    try:
        ini = {
            "sqlalchemy.url": args.server.rstrip("/") + "/" + name,
            "orbitflow.auth_secret": SECRET,
            "orbitflow.auth_url": "http://localhost",
            "orbitflow.plugins": "quiz pixels analytics",
        }
        settings = load_settings(ini, environ={})
        engine = make_engine(settings.database)
        upgrade_to_heads(alembic_config(settings, engine))
        with make_session_factory(engine)() as session, unscoped(session):
            company = create_company(session, name="Bench Co", subscription_id="bench", plan="ENTERPRISE")
            session.add(
                User(
                    company_id=company.id,
                    username="ada",
                    name="Ada",
                    role="OWNER",
                    password_hash=hash_password(PASSWORD),
                )
            )
            session.commit()
        client = webtest.TestApp(make_app(ini, environ={}, engine=engine), extra_environ={"HTTP_HOST": "localhost"})
        form = client.get("/login").forms[0]
        form["subscription_id"], form["username"], form["password"] = "bench", "ada", PASSWORD
        form.submit(status=303)
        results = {}
        for target, path in TARGETS.items():
            for _ in range(args.warmup):
                client.get(path, status=200)
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                client.get(path, status=200)
                times.append((time.perf_counter() - started) * 1000)
            results[target] = {"median_ms": statistics.median(times), "mean_ms": statistics.fmean(times)}
        print(json.dumps(results))
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
    return 0


# The parent: both sides in turn, then the table.


def run_side(tree: Path, args: argparse.Namespace) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(tree), "--server", args.server]
    command += ["--repeat", str(args.repeat), "--warmup", str(args.warmup)]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child(args)
    before = _git("rev-parse", args.before or default_before())
    after = _git("rev-parse", "HEAD")
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    print(f"before: {before[:10]}   after: {after[:10]}{dirty}   {args.rounds} rounds x {args.repeat} requests")
    with tempfile.TemporaryDirectory(prefix="orbitflow-bench-") as scratch:
        old_tree = Path(scratch) / "before"
        _git("worktree", "add", "--detach", str(old_tree), before)
        try:
            rows = []
            for number in range(1, args.rounds + 1):
                order = [("before", old_tree), ("after", ROOT)]
                if number % 2 == 0:
                    order.reverse()  # neither side always runs first
                measured = {side: run_side(tree, args) for side, tree in order}
                rows.append(measured)
        finally:
            _git("worktree", "remove", "--force", str(old_tree))
    print()
    print(f"{'round':>5} | {'target':<28} | {'before ms':>9} | {'after ms':>9} | {'after/before':>12}")
    print("-" * 76)
    ratios: dict[str, list[float]] = {target: [] for target in TARGETS}
    for number, measured in enumerate(rows, 1):
        for target, path in TARGETS.items():
            old, new = measured["before"][target]["median_ms"], measured["after"][target]["median_ms"]
            ratios[target].append(new / old)
            label = f"{target} GET {path}"
            print(f"{number:>5} | {label:<28} | {old:>9.2f} | {new:>9.2f} | {new / old:>12.3f}")
    print("-" * 76)
    failed = False
    for target in TARGETS:
        ratio = statistics.median(ratios[target])
        verdict = "ok" if ratio <= MAX_RATIO else "SLOWER than the target"
        failed |= ratio > MAX_RATIO
        print(f"median ratio {target:<4}: {ratio:.3f}  (target <= {MAX_RATIO:.2f}: {verdict})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
