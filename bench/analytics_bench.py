"""Analytics dashboard and quiz funnel latency on MariaDB with many funnel events and leads.

Loads ``--events`` funnel events and ``--leads`` leads into one company and as many into
each of ``--others`` other companies (multi-row INSERTs in chunks), builds the daily counts
with the rebuild (``orbitflow analytics-rebuild``'s function), then times, through the WSGI
app (webtest), the dashboard page, the summary API and a quiz's funnel (page and API) for
the last 90 days: median, p95 and the SQL statements of one request (an engine event),
beside the targets (p95 <= 100 ms, at most 10 statements). The full size of the issue is
``--events 1000000 --leads 100000 --others 9`` (the defaults); ``--scale`` shrinks both.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
import uuid
from datetime import timedelta

import webtest
from sqlalchemy import create_engine, event, insert, select, text

from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import hash_password
from orbitflow.app import make_app
from orbitflow.config import load_settings, parse_database_url
from orbitflow.db import make_engine, make_session_factory, unscoped
from orbitflow.leads.models import Lead, Stage
from orbitflow.migrations import alembic_config, upgrade_to_heads
from orbitflow.models.meta import utcnow
from orbitflow.tenants.services import create_company
from orbitflow_plugins.analytics.rebuild import rebuild
from orbitflow_plugins.quiz import services as quiz_services
from orbitflow_plugins.quiz.models import QuizFunnelEvent

SECRET = "bench-secret-0123456789-0123456789-abcdef"
PASSWORD = "Bench-Password-1"
TARGET_MS = 100.0
TARGET_SQL = 10
CHUNK = 5000
DAYS = 365


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.environ.get("ORBITFLOW_BENCH_MARIADB", "mysql://root@127.0.0.1:3306"))
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--others", type=int, default=9)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply --events and --leads")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    return parser.parse_args(argv)


def p95(values):
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(0.95 * len(ordered) + 0.5) - 1))]


def load_company(engine, session, number: int, events: int, leads: int, rng: random.Random) -> tuple[int, int]:
    with unscoped(session):
        company = create_company(session, name=f"Bench {number}", subscription_id=f"bench-{number}", plan="ENTERPRISE")
        session.add(
            User(
                company_id=company.id,
                username="owner",
                name="Owner",
                role="OWNER",
                password_hash=hash_password(PASSWORD),
            )
        )
        session.flush()
        quizzes = []
        for q in range(5):
            quiz = quiz_services.create_quiz(
                session, company, {"title": f"Quiz {q}", "slug": f"quiz-{q}"}, actor_id=None
            )
            quiz_services.replace_definition(
                session,
                company,
                quiz,
                [{"kind": "text", "text": f"Question {i}", "required": False} for i in range(5)],
                [],
            )
            quizzes.append(quiz)
        session.flush()
        stages = [s.id for s in session.scalars(select(Stage).where(Stage.company_id == company.id))]
        users = [session.scalar(select(User.id).where(User.company_id == company.id))]
        plan = [(quiz.id, [question.id for question in quiz.questions]) for quiz in quizzes]
        session.commit()
    now = utcnow()
    with engine.begin() as connection:
        rows = []
        for i in range(leads):
            at = now - timedelta(minutes=rng.randrange(DAYS * 24 * 60))
            rows.append(
                {
                    "company_id": company.id,
                    "name": f"Lead {i}",
                    "source": rng.choice(("quiz", "manual", "api", "import")),
                    "stage_id": rng.choice(stages),
                    "position": i,
                    "owner_id": rng.choice((*users, None)),
                    "value": rng.choice((None, 100, 250, 990)),
                    "utm_source": rng.choice((None, "facebook", "tiktok")),
                    "utm_campaign": rng.choice((None, "bf", "xmas", "spring")),
                    "consent": False,
                    "version": 1,
                    "created_at": at,
                    "updated_at": at,
                }
            )
            if len(rows) == CHUNK:
                connection.execute(insert(Lead.__table__), rows)
                rows = []
        if rows:
            connection.execute(insert(Lead.__table__), rows)
        rows = []
        for i in range(events):
            quiz_id, questions = plan[i % len(plan)]
            step = rng.randrange(8)
            kind = "view" if step < 3 else "start" if step == 3 else "complete" if step == 7 else "answer"
            rows.append(
                {
                    "company_id": company.id,
                    "quiz_id": quiz_id,
                    "session_key": uuid.uuid4().hex,
                    "kind": kind,
                    "question_id": rng.choice(questions) if kind == "answer" else None,
                    "device": rng.choice(("mobile", "desktop", "tablet")),
                    "created_at": now - timedelta(minutes=rng.randrange(DAYS * 24 * 60)),
                }
            )
            if len(rows) == CHUNK:
                connection.execute(insert(QuizFunnelEvent.__table__), rows)
                rows = []
        if rows:
            connection.execute(insert(QuizFunnelEvent.__table__), rows)
    with engine.begin() as connection:
        rebuild(connection, company.id)
    return company.id, plan[0][0]


def login(client, subscription_id):
    page = client.get("/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    client.post(
        "/login",
        {"subscription_id": subscription_id, "username": "owner", "password": PASSWORD, "csrf_token": token},
        status=303,
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    events, leads = int(args.events * args.scale), int(args.leads * args.scale)
    admin_url, _ = parse_database_url("--server", args.server.rstrip("/") + "/mysql")
    admin = create_engine(admin_url.set(database=None), isolation_level="AUTOCOMMIT")
    name = f"orbitflow_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    ini = {
        "sqlalchemy.url": f"{args.server.rstrip('/')}/{name}",
        "orbitflow.auth_secret": SECRET,
        "orbitflow.auth_url": "http://localhost",
        "orbitflow.plugins": "quiz analytics",
        "orbitflow.deliveries.worker_thread": "false",
    }
    settings = load_settings(ini, environ={})
    engine = make_engine(settings.database)
    try:
        started = time.perf_counter()
        upgrade_to_heads(alembic_config(settings, engine))
        session = make_session_factory(engine)()
        rng = random.Random(7)
        first = None
        for number in range(args.others + 1):
            loaded = load_company(engine, session, number, events, leads, rng)
            first = first or loaded
        session.close()
        with engine.connect() as connection:
            connection.execute(
                text("ANALYZE TABLE leads, quiz_funnel_events, analytics_lead_daily, analytics_funnel_daily")
            )
        load_seconds = time.perf_counter() - started
        print(
            f"Loaded {events:,} funnel events and {leads:,} leads into each of {args.others + 1} companies "
            f"in {load_seconds:.0f} s."
        )
        _, quiz_id = first
        app = make_app(ini, environ={}, engine=engine)
        client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
        login(client, "bench-0")
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        targets = [
            ("dashboard page /analytics?preset=90", "/analytics?preset=90"),
            ("summary API (90 days)", "/api/v1/analytics/summary?preset=90"),
            ("funnel page (90 days)", f"/analytics/quizzes/{quiz_id}?preset=90"),
            ("funnel API (all time)", f"/api/v1/analytics/quizzes/{quiz_id}/funnel"),
        ]
        print(f"\n{'request':40} {'median ms':>10} {'p95 ms':>8} {'target':>8} {'SQL':>5} {'target':>7}")
        failed = False
        for label, path in targets:
            statements.clear()
            client.get(path)
            count = len(statements)
            for _ in range(args.warmup):
                client.get(path)
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                client.get(path)
                times.append((time.perf_counter() - start) * 1000)
            median, high = statistics.median(times), p95(times)
            ok = high <= TARGET_MS and count <= TARGET_SQL
            failed = failed or not ok
            verdict = "ok" if ok else "MISSED"
            print(f"{label:40} {median:10.1f} {high:8.1f} {TARGET_MS:8.0f} {count:5d} {TARGET_SQL:7d}  {verdict}")
        print(f"\n{args.repeat} timed requests each after {args.warmup} warm-up; python {sys.version.split()[0]}.")
        return 1 if failed else 0
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))


if __name__ == "__main__":
    raise SystemExit(main())
