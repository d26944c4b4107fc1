"""The work of one quiz submit, in-process: SQL statements and CPU time per request.

Not a wall-clock benchmark: it counts what a submission costs the process that serves it,
which holds on a loaded machine. A throw-away MariaDB database gets ``quiz_bench``'s
company and quiz; the WSGI app (webtest, no server) takes ``--requests`` new visitors'
submissions, each counted with an engine ``before_cursor_execute`` listener and timed with
``time.thread_time`` (the request's own thread). What the background writers (funnel
events, analytics rollups) spend later is counted apart: their statements, and the
process's CPU time beyond the requests' thread, shutdown's last flush included.

    .venv/bin/python bench/submit_work.py
    ORBITFLOW_BENCH_PLUGINS="quiz pixels" .venv/bin/python bench/submit_work.py   # without analytics
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import quiz_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=quiz_bench.DEFAULT_SERVER, help="MariaDB server URL without a database")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--show", action="store_true", help="print the statements of the last submit")
    parser.add_argument("--calls", action="store_true", help="count Python function calls per submit (cProfile)")
    args = parser.parse_args()

    import webtest
    from sqlalchemy import create_engine, event, text

    from orbitflow.app import make_app
    from orbitflow.config import load_settings, parse_database_url
    from orbitflow.db import make_engine
    from orbitflow.lifecycle import shut_down
    from orbitflow.shared import provided, shared
    from orbitflow_plugins.quiz.recorder import FunnelRecorder

    def flush_writers(app) -> None:
        shared(app.registry, FunnelRecorder).flush()
        try:
            from orbitflow_plugins.analytics.rollups import LeadRollups
        except ImportError:  # code from before the rollups writer
            return
        rollups = provided(app.registry, LeadRollups)
        if rollups is not None:
            rollups.flush()

    admin_url, _ = parse_database_url("--server", args.server.rstrip("/") + "/mysql")
    admin = create_engine(admin_url.set(database=None), isolation_level="AUTOCOMMIT")
    name = f"orbitflow_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    url = f"{args.server.rstrip('/')}/{name}"
    try:
        quiz = quiz_bench.prepare(url)
        settings = quiz_bench.ini(url)
        engine = make_engine(load_settings(settings, environ={}).database)
        app = make_app(settings, environ={}, engine=engine)
        client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "10.1.0.1"})
        statements = [0]
        background = [0]
        last: list[str] = []
        requests_thread = threading.get_ident()

        def count(_conn, _cursor, statement, *_args) -> None:
            if threading.get_ident() == requests_thread:
                statements[0] += 1
                last.append(" ".join(statement.split())[:110])
            else:
                background[0] += 1

        event.listen(engine, "before_cursor_execute", count)
        path = f"/q/bench/{quiz.slug}"
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        bodies = quiz_bench.bodies_for(quiz, args.warmup + args.requests, "work")
        cpu: list[float] = []
        calls: list[int] = []
        sql: list[int] = []
        process_start = thread_start = 0.0
        for number, body in enumerate(bodies):
            if number == args.warmup:
                flush_writers(app)  # the warm-up's events and rollups are written now
                background[0] = 0
                process_start, thread_start = time.process_time(), time.thread_time()
            statements[0] = 0
            last.clear()
            profile = cProfile.Profile() if args.calls and number >= args.warmup else None
            started = time.thread_time()
            if profile is not None:
                profile.enable()
            response = client.post(path, body, headers=headers, status="*")
            if profile is not None:
                profile.disable()
                calls.append(pstats.Stats(profile).total_calls)
            spent = time.thread_time() - started
            if response.status_int >= 400:
                raise SystemExit(f"submit answered {response.status_int}: {response.text[:300]}")
            if number >= args.warmup:
                cpu.append(spent * 1000)
                sql.append(statements[0])
        if args.show:
            print("\n".join(last))
        other_ms = ((time.process_time() - process_start) - (time.thread_time() - thread_start)) * 1000
        statements[0] = 0
        started = time.thread_time()
        flush_writers(app)
        flush_ms = other_ms + (time.thread_time() - started) * 1000
        shut_down(app.registry)
        print(f"plugins: {quiz_bench.PLUGINS}; {args.requests} submits after {args.warmup} warm-up, MariaDB")
        print(f"CPU ms per submit: median {statistics.median(cpu):.2f}, mean {statistics.fmean(cpu):.2f}")
        if calls:
            print(f"Python function calls per submit: median {statistics.median(calls):.0f}")
        print(f"SQL statements per submit: median {statistics.median(sql):.0f}, max {max(sql)}")
        print(
            f"background writers per submit: {flush_ms / args.requests:.2f} ms CPU, "
            f"{(background[0] + statements[0]) / args.requests:.2f} statements"
        )
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


if __name__ == "__main__":
    main()
