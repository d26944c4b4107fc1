"""The funnel-event recorder: pages hand events over, one INSERT per flush writes them."""

from __future__ import annotations

import http.client
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import waitress
import webtest
from quizkit import make_quiz, public_path
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from orbitflow.app import make_app
from orbitflow.batches import MemoryBuffer, RedisBuffer
from orbitflow.config import ConfigError, DatabaseSettings
from orbitflow.db import make_engine
from orbitflow.lifecycle import shut_down
from orbitflow.shared import shared
from orbitflow_plugins.quiz.models import QuizFunnelEvent
from orbitflow_plugins.quiz.recorder import FunnelEvent, FunnelRecorder


def views(db, quiz) -> int:
    db.expire_all()
    return db.scalar(
        select(func.count())
        .select_from(QuizFunnelEvent)
        .where(QuizFunnelEvent.quiz_id == quiz.id, QuizFunnelEvent.kind == "view")
    )


def test_views_are_counted_exactly_after_the_flush(testapp, db, company, quiz, funnel):
    path = public_path(company, quiz)
    for _ in range(25):
        testapp.get(path)
    funnel.flush()
    assert views(db, quiz) == 25
    # Nothing is left to write, and nothing is written twice.
    assert funnel.flush() == 0
    assert views(db, quiz) == 25


def test_one_insert_statement_writes_a_whole_flush(backend, db, company, quiz):
    recorder = FunnelRecorder(backend.engine, MemoryBuffer(), interval=60)
    for number in range(40):
        recorder.record(FunnelEvent(company.id, quiz.id, f"form{number}", "view"))
    statements: list[str] = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        if "quiz_funnel_events" in statement and statement.lstrip().upper().startswith("INSERT"):
            statements.append(statement)

    event.listen(backend.engine, "before_cursor_execute", spy)
    try:
        assert recorder.flush() == 40
    finally:
        event.remove(backend.engine, "before_cursor_execute", spy)
        recorder.close()
    assert len(statements) == 1
    assert views(db, quiz) == 40


def test_the_writer_thread_writes_within_about_a_second(testapp, db, company, quiz):
    testapp.get(public_path(company, quiz))
    deadline = time.monotonic() + 5
    while views(db, quiz) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert views(db, quiz) == 1


def test_the_rest_is_written_at_shutdown(backend, db, company, quiz):
    app = make_app(backend.ini(**{"quiz.funnel_flush_seconds": "60"}), environ={}, engine=backend.engine)
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.9"})
    for _ in range(3):
        client.get(public_path(company, quiz))
    assert views(db, quiz) == 0, "the writer waits for its interval"
    shut_down(app.registry)
    assert views(db, quiz) == 3


def test_events_wait_while_the_database_cannot_be_written(backend, db, company, quiz, tmp_path):
    unreachable = make_engine(DatabaseSettings(make_url(f"sqlite:///{tmp_path}/missing/folder/db.sqlite")))
    recorder = FunnelRecorder(unreachable, MemoryBuffer(), interval=60)
    recorder.buffer.push(FunnelEvent(company.id, quiz.id, "abc", "view"))
    with pytest.raises(DBAPIError):
        recorder.flush()
    assert len(recorder.buffer) == 1, "kept for the next flush"
    recorder.engine = backend.engine
    assert recorder.flush() == 1
    assert views(db, quiz) == 1


def test_an_event_of_a_deleted_quiz_does_not_lose_the_others(backend, db, company, quiz):
    other = make_quiz(db, company, {"title": "Gone soon", "slug": "gone-soon"}, publish=False)
    recorder = FunnelRecorder(backend.engine, MemoryBuffer(), interval=60)
    recorder.buffer.push(FunnelEvent(company.id, other.id, "a", "view"))
    recorder.buffer.push(FunnelEvent(company.id, quiz.id, "b", "view"))
    db.delete(other)
    db.commit()
    assert recorder.flush() == 1
    assert views(db, quiz) == 1


def test_with_redis_events_wait_in_redis_for_any_process_to_write(backend, db, company, quiz, redis_url):
    key = f"orbitflow-test:{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url)
    try:
        taker = FunnelRecorder(backend.engine, RedisBuffer(redis_url, key, FunnelEvent.from_json), interval=60)
        for number in range(5):
            taker.buffer.push(FunnelEvent(company.id, quiz.id, f"form{number}", "view", utm_source="tiktok"))
        assert client.llen(key) == 5
        # Another process (or replica) writes them: the one that took them may be gone.
        writer = FunnelRecorder(backend.engine, RedisBuffer(redis_url, key, FunnelEvent.from_json), interval=60)
        assert writer.flush() == 5
        assert client.llen(key) == 0
        assert views(db, quiz) == 5
        rows = db.scalars(select(QuizFunnelEvent).where(QuizFunnelEvent.quiz_id == quiz.id)).all()
        assert {row.utm_source for row in rows} == {"tiktok"}
    finally:
        client.delete(key)


def test_an_app_with_redis_buffers_its_views_there(backend, db, company, quiz, redis_url):
    app = make_app(
        backend.ini(**{"orbitflow.redis_url": redis_url, "quiz.funnel_flush_seconds": "60"}),
        environ={},
        engine=backend.engine,
    )
    recorder = shared(app.registry, FunnelRecorder)
    assert isinstance(recorder.buffer, RedisBuffer)
    # The list is the database's own, so installations sharing a Redis keep apart.
    assert backend.engine.url.database.split("/")[-1] in recorder.buffer.key
    try:
        webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"}).get(public_path(company, quiz))
        assert len(recorder.buffer) == 1
        shut_down(app.registry)
        assert views(db, quiz) == 1
    finally:
        redis.Redis.from_url(redis_url).delete(recorder.buffer.key)


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("quiz.funnel_flush_seconds", "often", "quiz.funnel_flush_seconds must be a number of seconds"),
        ("quiz.funnel_flush_seconds", "0", "quiz.funnel_flush_seconds must be from 0.01 to 60 seconds"),
        ("orbitflow.redis_url", "http://cache:6379", "REDIS_URL must be a URL like redis://"),
        ("quiz.cache_check_seconds", "soon", "quiz.cache_check_seconds must be a number of seconds"),
        ("quiz.cache_check_seconds", "0", "quiz.cache_check_seconds must be from 0.01 to 60 seconds"),
    ],
)
def test_bad_recorder_settings_stop_start_up(backend, setting, value, words):
    with pytest.raises(ConfigError) as raised:
        make_app(backend.ini(**{setting: value}), environ={}, engine=backend.engine)
    assert str(raised.value).startswith(words)


@pytest.mark.slow
@pytest.mark.mariadb_only
def test_a_burst_of_2000_views_from_concurrent_clients_is_counted_exactly(backend, db, company, quiz):
    if backend.name != "mariadb":
        pytest.skip("the burst is measured on MariaDB")
    app = make_app(backend.ini(**{"quiz.ratelimit.view": "100000/minute"}), environ={}, engine=backend.engine)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    path = public_path(company, quiz)
    local = threading.local()

    def view(_number: int) -> int:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=30)
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status

    try:
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(view, range(2000)))
    finally:
        server.close()
    served = statuses.count(200)
    assert served == 2000, sorted(set(statuses))
    shut_down(app.registry)
    assert views(db, quiz) == served
