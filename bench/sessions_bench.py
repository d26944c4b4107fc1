"""Per-request cost of server-side sessions: an API GET and a page with the session cookie,
before (the commit before ``user_sessions``) and after (this tree), side by side.

The code before is checked out in a temporary ``git worktree``; each side runs in a child
process of its own (its ``src`` first on the path) against a throw-away MariaDB database
migrated by its own migrations. A user signs in through the login form, then the child
times ``GET /api/v1/me`` and ``GET /dashboard`` through the WSGI app (webtest: the whole
stack minus the socket). In each round both sides start, warm up, and then time their
requests at the same moment (one per core), so a noisy machine slows both alike; the
median of the rounds' after/before ratios is the number to read (target: at most 1.05).
Each side also reports the CPU time its process spent per request (less sensitive to
other load than wall time) and counts the SQL statements one request runs, which no
noise changes.

    .venv/bin/python bench/sessions_bench.py                  # 8 rounds, 200 requests per target
    .venv/bin/python bench/sessions_bench.py --rounds 5 --repeat 1000 --before <commit>
    .venv/bin/python bench/sessions_bench.py --after <commit>     # another commit than this tree
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
    parser.add_argument(
        "--after",
        help="commit of the code after (default: this tree); the last commit of the sessions change isolates "
        "the session read from what later features added to the same pages",
    )
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=200, help="timed requests per target and round")
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
    from sqlalchemy import create_engine, event, text

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
            # No outbox thread polling beside the timed requests (nothing is sent here).
            "orbitflow.deliveries.worker_thread": "false",
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
        for path in TARGETS.values():
            for _ in range(args.warmup):
                client.get(path, status=200)
        # Both sides time their requests together: wait for the parent's word.
        print("ready", flush=True)
        sys.stdin.readline()
        results = {}
        for target, path in TARGETS.items():
            times = []
            cpu_started = time.process_time()
            for _ in range(args.repeat):
                started = time.perf_counter()
                client.get(path, status=200)
                times.append((time.perf_counter() - started) * 1000)
            cpu_ms = (time.process_time() - cpu_started) * 1000 / args.repeat
            statements: list[str] = []

            def count(connection, cursor, statement, *rest, seen=statements) -> None:
                seen.append(statement)

            event.listen(engine, "before_cursor_execute", count)
            client.get(path, status=200)
            event.remove(engine, "before_cursor_execute", count)
            results[target] = {
                "median_ms": statistics.median(times),
                "mean_ms": statistics.fmean(times),
                "cpu_ms": cpu_ms,
                "statements": len(statements),
            }
        print(json.dumps(results))
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
    return 0


# The parent: both sides in turn, then the table.


def run_round(trees: dict[str, Path], args: argparse.Namespace) -> dict[str, dict]:
    """Start both sides, let each set up and warm up, then start their timing together."""
    children = {}
    for side, tree in trees.items():
        command = [sys.executable, str(Path(__file__).resolve()), "--child", str(tree), "--server", args.server]
        command += ["--repeat", str(args.repeat), "--warmup", str(args.warmup)]
        children[side] = subprocess.Popen(
            command,
            env={**os.environ, "PYTHONPATH": str(tree / "src")},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
    for child_process in children.values():
        if child_process.stdout.readline().strip() != "ready":
            raise SystemExit("a side failed to start")
    for child_process in children.values():
        child_process.stdin.write("go\n")
        child_process.stdin.flush()
    measured = {}
    for side, child_process in children.items():
        output, _ = child_process.communicate()
        if child_process.returncode:
            raise SystemExit(f"the {side} side failed")
        measured[side] = json.loads(output.strip().splitlines()[-1])
    return measured


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child(args)
    before = _git("rev-parse", args.before or default_before())
    after = _git("rev-parse", args.after or "HEAD")
    dirty = ""
    if not args.after and _git("status", "--porcelain", "--untracked-files=no"):
        dirty = " (with uncommitted changes)"
    print(f"before: {before[:10]}   after: {after[:10]}{dirty}   {args.rounds} rounds x {args.repeat} requests")
    with tempfile.TemporaryDirectory(prefix="orbitflow-bench-") as scratch:
        trees = {"before": Path(scratch) / "before", "after": Path(scratch) / "after" if args.after else ROOT}
        for side, commit in (("before", before), ("after", after)):
            if trees[side] != ROOT:
                _git("worktree", "add", "--detach", str(trees[side]), commit)
        try:
            rows = []
            for _ in range(args.rounds):
                rows.append(run_round(trees, args))
        finally:
            for tree in trees.values():
                if tree != ROOT:
                    _git("worktree", "remove", "--force", str(tree))
    print()
    first = rows[0]
    for target, path in TARGETS.items():
        counts = first["before"][target]["statements"], first["after"][target]["statements"]
        print(f"SQL statements per GET {path}: before {counts[0]}, after {counts[1]}")
    header = f"{'round':>5} | {'target':<28} | {'before ms':>9} | {'after ms':>9} | {'after/before':>12}"
    print(header + f" | {'CPU ms before':>13} | {'after':>6} | {'ratio':>6}")
    print("-" * 110)
    ratios: dict[str, list[float]] = {target: [] for target in TARGETS}
    cpu_ratios: dict[str, list[float]] = {target: [] for target in TARGETS}
    for number, measured in enumerate(rows, 1):
        for target, path in TARGETS.items():
            old, new = measured["before"][target]["median_ms"], measured["after"][target]["median_ms"]
            old_cpu, new_cpu = measured["before"][target]["cpu_ms"], measured["after"][target]["cpu_ms"]
            ratios[target].append(new / old)
            cpu_ratios[target].append(new_cpu / old_cpu)
            label = f"{target} GET {path}"
            print(
                f"{number:>5} | {label:<28} | {old:>9.2f} | {new:>9.2f} | {new / old:>12.3f}"
                f" | {old_cpu:>13.2f} | {new_cpu:>6.2f} | {new_cpu / old_cpu:>6.3f}"
            )
    print("-" * 110)
    for target in TARGETS:
        print(f"median CPU ratio {target:<4}: {statistics.median(cpu_ratios[target]):.3f}")
    failed = False
    for target in TARGETS:
        ratio = statistics.median(ratios[target])
        verdict = "ok" if ratio <= MAX_RATIO else "SLOWER than the target"
        failed |= ratio > MAX_RATIO
        print(f"median ratio {target:<4}: {ratio:.3f}  (target <= {MAX_RATIO:.2f}: {verdict})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
