"""The work of a warm public quiz page view, counted rather than timed.

One process, the WSGI app through webtest, a throw-away SQLite database: the company and
the five-question quiz of ``quiz_bench.py``, with a Meta pixel configured (so the page
carries the pixels' script, as a campaign's page does). After warm-up it serves
``--requests`` views of ``GET /q/bench/bench-quiz`` under cProfile and prints, per
request, the Python function calls, the SQL statements, and the calls and cumulative
share of the functions a page passes through. Function calls and statements do not
depend on the load of the machine, unlike wall time::

    .venv/bin/python bench/quiz_page_profile.py                 # 500 views, every bundled plugin
    .venv/bin/python bench/quiz_page_profile.py --requests 200 --top 30
    valgrind --tool=callgrind --callgrind-out-file=/tmp/page.cg \\
        .venv/bin/python bench/quiz_page_profile.py --no-profile   # instruction counts instead
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quiz_bench import QUIZ, SECRET, create_published_quiz

PLUGINS = "quiz pixels analytics"
# The layers of the request, by the function that enters each: (label, file suffix, name).
LAYERS = (
    ("pyramid_retry + router", "pyramid/router.py", "invoke_request"),
    ("OrbitFlow's tweens and pyramid_tm", "pyramid_tm/__init__.py", "tm_tween"),
    ("the view (`show_quiz`)", "quiz/public.py", "show_quiz"),
    ("Jinja2 rendering (layout, quiz shell, questions)", "jinja2/environment.py", "render"),
    (
        "the plugins' page scripts (`public_page_scripts`, the pixel settings read)",
        "orbitflow/plugins.py",
        "public_page_scripts",
    ),
    ("`static_url`", "pyramid/url.py", "static_url"),
    ("pyramid_jinja2's template lookup", "pyramid_jinja2/__init__.py", "template_loader"),
    ("joining the rendered page with the visitor's values", "quiz/page.py", "fill"),
)


def prepare(directory: Path) -> tuple[dict[str, str], str]:
    from sqlalchemy import update

    from orbitflow.config import load_settings
    from orbitflow.crypto import Encryptor
    from orbitflow.db import make_engine, make_session_factory, unscoped
    from orbitflow.migrations import alembic_config, upgrade_to_heads
    from orbitflow.models.meta import utcnow
    from orbitflow.tenants.models import Company
    from orbitflow_plugins.pixels.models import PixelSettings
    from orbitflow_plugins.pixels.settings import update_settings
    from orbitflow_plugins.quiz.models import Quiz

    ini = {
        "sqlalchemy.url": f"sqlite:///{directory / 'page.sqlite'}",
        "orbitflow.auth_secret": SECRET,
        "orbitflow.auth_url": "http://localhost",
        "orbitflow.plugins": PLUGINS,
        "orbitflow.deliveries.worker_thread": "false",
        "quiz.ratelimit.view": "1000000/minute",
    }
    settings = load_settings(ini, environ={})
    engine = make_engine(settings.database)
    upgrade_to_heads(alembic_config(settings, engine))
    session = make_session_factory(engine)()
    with unscoped(session):
        company, _ = create_published_quiz(session)
        pixel = {"facebook_pixel_id": "123456789012345"}
        update_settings(session, company.id, pixel, Encryptor(settings.encryption_keys))
        # Rows changed in the last two seconds are never cached: as if changed an hour ago.
        an_hour_ago = utcnow() - timedelta(hours=1)
        for model in (Company, Quiz, PixelSettings):
            session.execute(update(model).values(updated_at=an_hour_ago))
        session.commit()
    session.close()
    engine.dispose()
    return ini, f"/q/bench/{QUIZ['slug']}"


def layer_rows(stats: pstats.Stats, requests: int) -> list[tuple[str, float, float]]:
    total = max(
        (cumulative for (_, _, name), (_, _, _, cumulative, _) in stats.stats.items() if name == "invoke_request"),
        default=0.0,
    )
    rows = []
    for label, suffix, function in LAYERS:
        calls = cumulative = 0.0
        for (filename, _, name), (_, primitive_calls, _, cum, _) in stats.stats.items():
            if name == function and filename.endswith(suffix):
                calls += primitive_calls
                cumulative += cum
        if calls:
            rows.append((label, calls / requests, 100 * cumulative / total if total else 0.0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--top", type=int, default=0, help="also print the N functions of most own time")
    parser.add_argument("--no-profile", action="store_true", help="serve the views without cProfile (for valgrind)")
    args = parser.parse_args()

    import webtest
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from orbitflow.app import make_app
    from orbitflow.lifecycle import shut_down
    from orbitflow.shared import shared

    with tempfile.TemporaryDirectory() as directory:
        ini, path = prepare(Path(directory))
        app = make_app(ini, environ={})
        client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.9"})
        for _ in range(args.warmup):
            client.get(path, status=200)
        statements: list[str] = []
        me = threading.get_ident()

        def seen(_connection, _cursor, statement, *_args) -> None:
            if threading.get_ident() == me:
                statements.append(statement)

        engine = shared(app.registry, Engine)
        event.listen(engine, "before_cursor_execute", seen)
        profile = cProfile.Profile()
        if not args.no_profile:
            profile.enable()
        for _ in range(args.requests):
            client.get(path, status=200)
        if not args.no_profile:
            profile.disable()
        event.remove(engine, "before_cursor_execute", seen)
        shut_down(app.registry)

    print(f"{args.requests} warm views of {path}, plugins: {PLUGINS}")
    print(f"SQL statements per view: {len(statements) / args.requests:g}")
    if args.no_profile:
        return
    stats = pstats.Stats(profile)
    print(f"Python function calls per view: {stats.total_calls / args.requests:,.0f}")
    print()
    print("| layer | calls per view | share of the request |")
    print("| --- | ---: | ---: |")
    for label, calls, share in layer_rows(stats, args.requests):
        print(f"| {label} | {calls:g} | {share:.0f} % |")
    if args.top:
        print()
        stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
