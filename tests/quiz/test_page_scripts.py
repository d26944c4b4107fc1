"""The public_page_scripts hook: a plugin's script reaches public quiz pages (with the
page's nonce and its data attributes), its CSP sources reach those pages' policy only,
and sources that would weaken the policy are refused. The public_page_tables hook: a
quiz page's scripts are kept with its definition until a row of a table they read
changes."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import webtest
from pluggy import PluginManager
from quizkit import make_quiz, public_path
from sqlalchemy import func, select, update

from orbitflow import hookimpl
from orbitflow.app import make_app
from orbitflow.config import ConfigError
from orbitflow.leads.models import Stage
from orbitflow.lifecycle import shut_down
from orbitflow.models.meta import utcnow
from orbitflow.plugins import PageScript
from orbitflow.shared import shared
from orbitflow.tenants.models import Company
from orbitflow.web.csp import check_page_sources
from orbitflow_plugins.quiz.models import Quiz
from support import login


class BadgeScripts:
    def __init__(self) -> None:
        self.pages: list[tuple[str, int, int | None]] = []

    @hookimpl
    def public_page_scripts(self, request, page):
        self.pages.append((page.kind, page.company_id, page.quiz_id))
        return [
            PageScript(
                request.static_url("orbitflow_plugins.quiz:static/quiz.js"),
                {"data-badge": f"{page.kind}-{page.quiz_id}"},
                {"script-src": ("https://badge.example.net",), "connect-src": ("https://api.badge.example.net",)},
            )
        ]


@pytest.fixture
def badge_app(backend):
    plugin = BadgeScripts()

    def install(config):
        shared(config.registry, PluginManager).register(plugin, name="badge-scripts")

    app = make_app(backend.ini(), environ={}, engine=backend.engine, includes=[install])
    yield app, plugin
    # Its funnel events are written now, while the test database exists.
    shut_down(app.registry)


def test_a_plugin_adds_a_script_and_its_sources_to_public_pages_only(badge_app, db, company, make_user):
    app, plugin = badge_app
    quiz = make_quiz(db, company)
    visitor = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.1.1.1"})
    page = visitor.get(public_path(company, quiz))
    policy = page.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert re.search(rf'<script src="[^"]+" nonce="{nonce}" data-badge="quiz-{quiz.id}"></script>', page.text)
    assert "https://badge.example.net" in next(p for p in policy.split(";") if "script-src" in p)
    assert "https://api.badge.example.net" in next(p for p in policy.split(";") if "connect-src" in p)
    assert plugin.pages == [("quiz", company.id, quiz.id)]

    team = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.1.1.2"})
    login(team, make_user(company, "OWNER", username="owen"))
    for path in ("/dashboard", f"/quizzes/{quiz.id}/preview"):
        crm = team.get(path)
        assert "data-badge" not in crm.text
        assert "badge.example.net" not in crm.headers["Content-Security-Policy"]
    assert [kind for kind, *_ in plugin.pages] == ["quiz"]


@pytest.mark.parametrize(
    "sources",
    [
        {"script-src": ("'unsafe-inline'",)},
        {"script-src": ("https:",)},
        {"frame-ancestors": ("https://evil.example",)},
        {"script-src": ("'nonce-fixed'",)},
    ],
)
def test_sources_that_would_weaken_the_policy_are_refused(sources):
    with pytest.raises(ValueError, match="page script's CSP"):
        check_page_sources(sources)


class StageCount:
    """A script that shows how many pipeline stages the company has: it reads a table."""

    def __init__(self, tables: list[str]) -> None:
        self.tables, self.calls = tables, 0

    @hookimpl
    def public_page_tables(self):
        return self.tables

    @hookimpl
    def public_page_scripts(self, request, page):
        self.calls += 1
        stages = select(func.count()).select_from(Stage).where(Stage.company_id == page.company_id)
        count = request.dbsession.scalar(stages)
        return [PageScript(request.static_url("orbitflow_plugins.quiz:static/quiz.js"), {"data-stages": str(count)})]


def stage_count_app(backend, plugin: StageCount):
    def install(config):
        shared(config.registry, PluginManager).register(plugin, name="stage-count")

    ini = backend.ini(**{"orbitflow.plugins": "quiz", "quiz.cache_check_seconds": "1"})
    return make_app(ini, environ={}, engine=backend.engine, includes=[install])


def test_a_quiz_pages_scripts_are_kept_until_a_table_they_read_changes(backend, db, company):
    plugin = StageCount(["stages"])
    app = stage_count_app(backend, plugin)
    try:
        quiz = make_quiz(db, company)
        an_hour_ago = utcnow() - timedelta(hours=1)
        for model in (Company, Quiz):
            db.execute(update(model).values(updated_at=an_hour_ago))
        db.execute(update(Stage).values(created_at=an_hour_ago))
        db.commit()
        visitor = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.1.1.3"})
        path = public_path(company, quiz)
        before = db.scalar(select(func.count()).select_from(Stage).where(Stage.company_id == company.id))
        for _ in range(5):
            assert f'data-stages="{before}"' in visitor.get(path).text
        assert plugin.calls == 1
        db.add(Stage(company_id=company.id, name="Nurture", position=99, kind="open"))
        db.commit()
        started = time.monotonic()
        while f'data-stages="{before + 1}"' not in visitor.get(path).text:
            assert time.monotonic() - started < 2.5, "the new stage was not seen within the check interval"
            time.sleep(0.05)
    finally:
        shut_down(app.registry)


def test_an_unknown_table_stops_start_up(backend):
    with pytest.raises(ConfigError, match="no_such_table"):
        stage_count_app(backend, StageCount(["no_such_table"]))
