"""Throughput and latency of the quiz traffic path on MariaDB, next to bare Pyramid floors.

One gunicorn server with production.ini's ``[server:main]`` settings and hooks serves
OrbitFlow and a bare Pyramid app side by side, on the same database. The references: a
bare view returning a small page (for the public quiz page, ``/login`` and
``/api/health``), and a bare view doing a single INSERT per request (for the quiz
submit), which is what any Python web app on this machine pays at least. Every target
gets the same load from this process: ``--clients`` threads, each with a keep-alive
connection (posts carry form bodies of the same size). Loads go to 127.0.0.1 only and stop after ``--requests``
requests or ``--max-seconds`` seconds, whichever comes first.

    .venv/bin/python bench/quiz_bench.py                     # MariaDB at 127.0.0.1:3306 as root
    .venv/bin/python bench/quiz_bench.py --clients 16 --requests 4000
    ORBITFLOW_BENCH_MARIADB=mysql://user:pass@127.0.0.1:3306 .venv/bin/python bench/quiz_bench.py
    ORBITFLOW_BENCH_PLUGINS="quiz pixels" .venv/bin/python bench/quiz_bench.py   # without analytics

It creates a throw-away database (orbitflow_bench_<random>) and drops it afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

SECRET = "bench-secret-0123456789-0123456789-abcdef"
ROOT = Path(__file__).resolve().parent.parent
BARE_PAGE = "<!doctype html><title>Bare</title><h1>Hello</h1>" + "<p>A small page.</p>" * 40
DEFAULT_SERVER = os.environ.get("ORBITFLOW_BENCH_MARIADB", "mysql://root@127.0.0.1:3306")

QUIZ = {
    "title": "Which plan fits your team?",
    "slug": "bench-quiz",
    "questions": [
        {
            "kind": "single",
            "text": "How many people sell in your team?",
            "required": True,
            "options": [
                {"label": "Just me", "score": 0},
                {"label": "2 to 10", "score": 10},
                {"label": "More", "score": 20},
            ],
        },
        {
            "kind": "multiple",
            "text": "Where do your leads come from?",
            "required": True,
            "options": [
                {"label": "Facebook", "score": 5},
                {"label": "TikTok", "score": 5},
                {"label": "Referrals", "score": 2},
            ],
        },
        {"kind": "number", "text": "Leads per month?", "required": True, "min_value": "0", "max_value": "100000"},
        {"kind": "rating", "text": "How happy are you with your CRM?", "required": True, "max_value": "5"},
        {"kind": "text", "text": "Anything else?", "required": False},
    ],
    "outcomes": [
        {"title": "Starter", "max_score": 12},
        {"title": "Professional", "min_score": 13, "max_score": 30},
        {"title": "Enterprise", "min_score": 31},
    ],
}


PLUGINS = os.environ.get("ORBITFLOW_BENCH_PLUGINS", "quiz pixels analytics")


def ini(url: str) -> dict[str, str]:
    return {
        "sqlalchemy.url": url,
        "orbitflow.auth_secret": SECRET,
        "orbitflow.auth_url": "http://127.0.0.1",
        "orbitflow.plugins": PLUGINS,
        # The limits are counted as in production, only set high enough not to refuse the load.
        "quiz.ratelimit.submit": "1000000/minute",
        "quiz.ratelimit.view": "1000000/minute",
    }


# -- the server process ---------------------------------------------------------------


def production_server_options() -> dict[str, str]:
    """production.ini's ``[server:main]`` gunicorn settings, as pserve would pass them."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "production.ini")
    return {key: value for key, value in parser["server:main"].items() if key not in ("use", "config")}


def serve(url: str, port: int, workers: int) -> None:
    # Read by orbitflow.gunicorn_hooks, as in production.
    os.environ["PORT"], os.environ["WEB_CONCURRENCY"] = str(port), str(workers)
    from gunicorn.app.base import Application
    from pyramid.config import Configurator
    from pyramid.response import Response
    from pyramid.security import NO_PERMISSION_REQUIRED
    from sqlalchemy import text
    from zope.sqlalchemy import mark_changed

    from orbitflow.app import make_app
    from orbitflow.config import load_settings
    from orbitflow.db import make_engine

    settings = ini(url)
    engine = make_engine(load_settings(settings, environ={}).database)
    insert = text("INSERT INTO bench_floor (token, payload, created_at) VALUES (:token, :payload, UTC_TIMESTAMP())")

    def stack_floor_view(request):
        # The same INSERT inside OrbitFlow: its tweens, security policy and request session.
        request.dbsession.execute(insert, {"token": request.POST["token"], "payload": request.body.decode()})
        mark_changed(request.dbsession)
        return Response(status=303, location="/floor/done")

    def add_stack_floor(config):
        config.add_route("stack_floor", "/stack-floor")
        config.add_view(
            stack_floor_view,
            route_name="stack_floor",
            request_method="POST",
            permission=NO_PERMISSION_REQUIRED,
            require_csrf=False,
        )

    orbitflow = make_app(settings, environ={}, engine=engine, includes=[add_stack_floor])

    def floor_view(request):
        with engine.begin() as connection:
            connection.execute(insert, {"token": request.POST["token"], "payload": request.body.decode()})
        return Response(status=303, location="/floor/done")

    def bare_page(request):
        # A small page and nothing else: what a Pyramid view costs on this server.
        return Response(BARE_PAGE, content_type="text/html")

    with Configurator() as config:
        config.add_route("floor", "/floor")
        config.add_view(floor_view, route_name="floor", request_method="POST")
        config.add_route("bare", "/floor/page")
        config.add_view(bare_page, route_name="bare", request_method="GET")
        floor = config.make_wsgi_app()

    def dispatch(environ, start_response):
        app = floor if environ.get("PATH_INFO", "").startswith("/floor") else orbitflow
        return app(environ, start_response)

    # The hooks find the app's registry here: post_fork drops the pool both apps share.
    dispatch.registry = orbitflow.registry

    class Server(Application):
        def load_config(self) -> None:
            self.load_config_from_module_name_or_filename("python:orbitflow.gunicorn_hooks")
            for key, value in production_server_options().items():
                self.cfg.set(key, value)
            self.cfg.set("bind", f"127.0.0.1:{port}")

        def load(self):
            return dispatch

    print(f"serving on 127.0.0.1:{port}: gunicorn, {workers} gthread worker(s), production.ini settings", flush=True)
    Server().run()


# -- the load -------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    server_cpu: float = 0.0
    database_cpu: float = 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    def summary(self) -> dict:
        return {
            "name": self.name,
            "requests": len(self.latencies),
            "per_second": round(len(self.latencies) / self.seconds, 1),
            "p50_ms": round(self.percentile(50), 1),
            "p95_ms": round(self.percentile(95), 1),
            "p99_ms": round(self.percentile(99), 1),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 1),
            # CPU time per request of the app server process and of the database server.
            "app_cpu_ms": round(self.server_cpu / len(self.latencies) * 1000, 2),
            "db_cpu_ms": round(self.database_cpu / len(self.latencies) * 1000, 2),
            "statuses": self.statuses,
        }


def load(name: str, port: int, path: str, bodies: list[str | None], clients: int, max_seconds: float) -> Run:
    """``bodies`` posted in turn; a None body is a GET of ``path``."""
    run = Run(name)
    lock = threading.Lock()
    cursor = iter(range(len(bodies)))
    deadline = time.monotonic() + max_seconds
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        statuses: dict[int, int] = {}
        while time.monotonic() < deadline:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            started = time.perf_counter()
            body = bodies[index]
            if body is None:
                connection.request("GET", path)
            else:
                connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            statuses[response.status] = statuses.get(response.status, 0) + 1
        connection.close()
        with lock:
            run.latencies.extend(mine)
            for status, count in statuses.items():
                run.statuses[status] = run.statuses.get(status, 0) + count

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - started
    return run


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process and all its descendants (Linux /proc); 0 where unavailable."""
    if pid is None:
        return 0.0
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = _stat(int(entry))
        except (OSError, ValueError, IndexError):
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def descends(candidate: int) -> bool:
        while candidate in parents and candidate != pid:
            candidate = parents[candidate]
        return candidate == pid

    return sum(seconds for process, seconds in times.items() if descends(process))


def mariadb_pid() -> int | None:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as handle:
                    if handle.read().strip() in ("mariadbd", "mysqld"):
                        return int(entry)
            except OSError:
                continue
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/health")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the bench server did not start")


def prepare(url: str):
    """Migrate the database; create a company, a published quiz and the floor's table."""
    from sqlalchemy import text

    from orbitflow.config import load_settings
    from orbitflow.db import make_engine, make_session_factory, unscoped
    from orbitflow.migrations import alembic_config, upgrade_to_heads
    from orbitflow_plugins.quiz import services

    settings = load_settings(ini(url), environ={})
    engine = make_engine(settings.database)
    upgrade_to_heads(alembic_config(settings, engine))
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE bench_floor (id BIGINT AUTO_INCREMENT PRIMARY KEY, token VARCHAR(120) NOT NULL UNIQUE, "
                "payload TEXT NOT NULL, created_at DATETIME NOT NULL)"
            )
        )
    session = make_session_factory(engine)()
    with unscoped(session):
        _, quiz = create_published_quiz(session)
        quiz = services.load_quiz(session, quiz.id)
        session.commit()
    engine.dispose()
    return quiz


def create_published_quiz(session):
    """The bench company (slug ``bench``) and its published five-question quiz, not committed."""
    from orbitflow.tenants.services import create_company
    from orbitflow_plugins.quiz import services

    company = create_company(session, name="Bench Ltd", subscription_id="bench", plan="ENTERPRISE")
    company.privacy_policy_url = "https://example.com/privacy"
    settings_part = {k: v for k, v in QUIZ.items() if k not in ("questions", "outcomes")}
    quiz = services.create_quiz(session, company, settings_part, actor_id=None)
    services.replace_definition(session, company, quiz, QUIZ["questions"], QUIZ["outcomes"])
    services.publish(session, company, quiz)
    return company, quiz


def bodies_for(quiz, count: int, tag: str) -> list[str]:
    from orbitflow_plugins.quiz.tokens import issue_token

    q = quiz.questions
    issued = int(time.time()) - 60
    bodies = []
    for number in range(count):
        fields = [
            ("token", issue_token(SECRET, quiz.id, issued_at=issued)),
            (q[0].field_name, str(q[0].options[number % 3].id)),
            (q[1].field_name, str(q[1].options[0].id)),
            (q[1].field_name, str(q[1].options[1].id)),
            (q[2].field_name, str(100 + number % 900)),
            (q[3].field_name, str(1 + number % 5)),
            (q[4].field_name, "We would like a demo next week."),
            ("name", f"Visitor {number}"),
            ("email", f"{tag}-{number}@example.com"),
            ("phone", ""),
            ("consent", "1"),
            ("utm_source", "facebook"),
            ("utm_medium", "cpc"),
            ("utm_campaign", "bench"),
        ]
        bodies.append(urllib.parse.urlencode(fields))
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="MariaDB server URL without a database")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per target")
    parser.add_argument("--warmup", type=int, default=300, help="unmeasured requests per target first")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time cap per measured run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (WEB_CONCURRENCY; default 2)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.workers)
        return
    if args.clients < 1 or args.clients > 64 or args.requests > 100_000 or not 1 <= args.workers <= 16:
        raise SystemExit("use 1 to 64 clients, at most 100000 requests and 1 to 16 workers")

    from sqlalchemy import create_engine, text

    from orbitflow.config import parse_database_url

    admin_url, _ = parse_database_url("--server", args.server.rstrip("/") + "/mysql")
    admin = create_engine(admin_url.set(database=None), isolation_level="AUTOCOMMIT")
    name = f"orbitflow_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    url = f"{args.server.rstrip('/')}/{name}"
    server = None
    load_before = " ".join(f"{value:.1f}" for value in os.getloadavg())
    try:
        quiz = prepare(url)
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                url,
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ]
        )
        wait_for(port)
        quiz_path = f"/q/bench/{quiz.slug}"
        database = mariadb_pid()
        total = args.warmup + args.requests
        results = []
        targets = [
            ("bare Pyramid page (GET)", "/floor/page", None),
            ("public quiz page (GET)", quiz_path, None),
            ("GET /login", "/login", None),
            ("GET /api/health", "/api/health", None),
            ("floor: bare Pyramid view, one INSERT", "/floor", "floor"),
            ("the same INSERT through OrbitFlow's stack", "/stack-floor", "stack"),
            ("quiz submit", quiz_path, "quiz"),
        ]
        for label, path, tag in targets:
            bodies = bodies_for(quiz, total, tag) if tag else [None] * total
            load(label, port, path, bodies[: args.warmup], args.clients, args.max_seconds)
            app_before, db_before = cpu_seconds(server.pid), cpu_seconds(database)
            run = load(label, port, path, bodies[args.warmup :], args.clients, args.max_seconds)
            run.server_cpu = cpu_seconds(server.pid) - app_before
            run.database_cpu = cpu_seconds(database) - db_before
            results.append(run.summary())
        bare, page, login, health, floor, stack, submit = results
        ratio = submit["per_second"] / floor["per_second"]
        print(
            f"\n{args.clients} concurrent clients, {args.requests} measured requests each, MariaDB, "
            f"gunicorn with production.ini's settings: {args.workers} worker process(es)"
        )
        print(f"machine: {os.cpu_count()} CPUs, load average before the runs {load_before}; plugins: {PLUGINS}")
        print("| target | requests/s | p50 ms | p95 ms | p99 ms | app CPU ms/req | DB CPU ms/req | statuses |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for row in results:
            print(
                f"| {row['name']} | {row['per_second']} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | "
                f"{row['app_cpu_ms']} | {row['db_cpu_ms']} | {row['statuses']} |"
            )

        def share(row, of) -> str:
            return f"{row['per_second'] / of['per_second']:.0%}"

        print(
            f"\nquiz page = {share(page, bare)} of the bare page (target >= 30%); "
            f"/login {share(login, bare)}, /api/health {share(health, bare)}"
        )
        print(
            f"quiz submit = {ratio:.0%} of the floor (target >= 50%); "
            f"{share(submit, stack)} of the INSERT through OrbitFlow's stack; "
            f"p99 {submit['p99_ms']} ms (target < 100)"
        )
        if args.json:
            with open(args.json, "w") as handle:
                json.dump(
                    {"clients": args.clients, "workers": args.workers, "results": results, "ratio": ratio},
                    handle,
                    indent=2,
                )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


if __name__ == "__main__":
    main()
