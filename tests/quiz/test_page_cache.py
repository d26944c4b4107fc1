"""A published quiz page answered from the process's cache: no database round trip on a
hit, and an edit made elsewhere is seen within ``quiz.cache_check_seconds``."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import webtest
from quizkit import public_path
from sqlalchemy import event, update

from orbitflow.app import make_app
from orbitflow.lifecycle import shut_down
from orbitflow.models.meta import utcnow
from orbitflow.tenants.models import Company
from orbitflow_plugins.quiz import services
from orbitflow_plugins.quiz.models import Quiz

CHECK_SECONDS = 1.0


def settled(db, company, quiz) -> None:
    """The quiz and its company as if last changed an hour ago (rows changed in the last
    two seconds are never cached)."""
    an_hour_ago = utcnow() - timedelta(hours=1)
    db.execute(update(Company).where(Company.id == company.id).values(updated_at=an_hour_ago))
    db.execute(update(Quiz).where(Quiz.id == quiz.id).values(updated_at=an_hour_ago))
    db.commit()


class Statements:
    """The SQL statements this thread sends while the block runs."""

    def __init__(self, engine) -> None:
        self.engine, self.sent = engine, []
        self.thread = threading.get_ident()

    def _seen(self, _connection, _cursor, statement, *_args) -> None:
        if threading.get_ident() == self.thread:
            self.sent.append(statement)

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


@pytest.fixture
def quiz_only_app(backend):
    """The app with the quiz plugin alone: the pixels plugin reads its settings on every
    public page (one statement), which is not the quiz page's own work."""
    app = make_app(backend.ini(**{"orbitflow.plugins": "quiz"}), environ={}, engine=backend.engine)
    yield webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.8"})
    shut_down(app.registry)


def test_a_cached_quiz_page_sends_no_sql(backend, quiz_only_app, db, company, quiz):
    settled(db, company, quiz)
    path = public_path(company, quiz)
    for _ in range(2):  # warm-up: the change check, then the quiz read and cached
        quiz_only_app.get(path, status=200)
    with Statements(backend.engine) as statements:
        page = quiz_only_app.get(path, status=200)
    assert statements.sent == []
    assert quiz.title in page.text and 'name="token"' in page.text
    # The control: a page that is not cached reads the database.
    with Statements(backend.engine) as statements:
        quiz_only_app.get(path + "-other", status=404)
    assert statements.sent


def test_with_every_plugin_a_cached_page_reads_only_the_pixel_settings(backend, testapp, db, company, quiz):
    settled(db, company, quiz)
    path = public_path(company, quiz)
    for _ in range(2):
        testapp.get(path, status=200)
    with Statements(backend.engine) as statements:
        testapp.get(path, status=200)
    assert len(statements.sent) == 1 and "FROM pixel_settings" in statements.sent[0]


@pytest.fixture
def two_processes(backend):
    """Two apps with caches of their own, as two server processes (or replicas) have."""
    settings = backend.ini(**{"quiz.cache_check_seconds": str(CHECK_SECONDS)})
    apps = [make_app(settings, environ={}, engine=backend.engine) for _ in range(2)]
    yield [webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.7"}) for app in apps]
    for app in apps:
        shut_down(app.registry)


def seen_within(client, path: str, check, seconds: float) -> float:
    started = time.monotonic()
    while True:
        response = client.get(path, status="*")
        if check(response):
            return time.monotonic() - started
        assert time.monotonic() - started < seconds, response.text[:300]
        time.sleep(0.05)


def test_an_edit_is_seen_by_another_process_within_the_check_interval(two_processes, db, company, quiz):
    editor, other = two_processes
    settled(db, company, quiz)
    path = public_path(company, quiz)
    for client in two_processes:
        for _ in range(2):
            assert quiz.title in client.get(path, status=200).text
    # The other process edits the quiz (its title), then unpublishes it.
    services.update_settings(db, company, db.get(Quiz, quiz.id), {"title": "Find your plan, 2nd edition"}, partial=True)
    db.commit()
    bound = CHECK_SECONDS + 1.0  # the interval, and room for a slow machine
    assert seen_within(other, path, lambda r: "2nd edition" in r.text, bound) <= bound
    services.unpublish(db, db.get(Quiz, quiz.id))
    db.commit()
    assert seen_within(other, path, lambda r: r.status_int == 404, bound) <= bound
    assert seen_within(editor, path, lambda r: r.status_int == 404, bound) <= bound
