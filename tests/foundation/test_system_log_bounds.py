"""The system log bounds every entry, whoever writes it: fields cut to their caps, and the
same error repeated stored a few times only, the rest counted."""

from __future__ import annotations

import webtest
from sqlalchemy import func, select

from foundation.test_errors import ERROR_ID
from orbitflow.syslog.models import SystemLogEntry
from orbitflow.syslog.services import REPEAT_LIMIT, TEXT_CAPS, write_entry
from support import csrf_token


def stored(backend, **where) -> list[SystemLogEntry]:
    """Committed entries, read through a connection of their own."""
    query = select(*SystemLogEntry.__table__.c).filter_by(**where).order_by(SystemLogEntry.id)
    with backend.engine.connect() as connection:
        return [SystemLogEntry(**row._mapping) for row in connection.execute(query)]


def visitor(testapp, number: int) -> webtest.TestApp:
    """An anonymous browser from an address of its own (reports are limited per address)."""
    address = f"10.77.{number // 250}.{number % 250 + 1}"
    return webtest.TestApp(testapp.app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": address})


def report(client: webtest.TestApp, **body) -> webtest.TestResponse:
    return client.post_json("/api/client-errors", body, headers={"X-CSRF-Token": csrf_token(client)}, status=201)


def test_a_nine_megabyte_report_is_stored_capped(testapp, backend):
    huge = "A" * (9 * 1024 * 1024)
    response = report(
        testapp, message="TypeError: x", source="/static/js/app.js", line=huge, page="/leads/" + "B" * 5000
    )
    [entry] = stored(backend, error_id=response.json["error_id"])
    assert entry.message.startswith("TypeError: x (/static/js/app.js:AAAA") and entry.message.endswith("[truncated]")
    assert len(entry.message.encode()) <= TEXT_CAPS["message"]
    assert entry.endpoint == ("/leads/" + "B" * 5000)[:500]
    assert (entry.level, entry.source) == ("ERROR", "CLIENT")


def test_a_long_message_of_its_own_is_capped_too(testapp, backend):
    response = report(testapp, message="E" * 3_000_000, source="S" * 1_000_000)
    [entry] = stored(backend, error_id=response.json["error_id"])
    assert entry.message.startswith("EEEE") and len(entry.message.encode()) <= TEXT_CAPS["message"]


def test_non_ascii_and_lone_surrogates_are_cut_and_stored(testapp, backend):
    response = report(testapp, message="Ошибка \ud800 " + "ж" * 20_000, page="/страница/" + "ж" * 1000)
    [entry] = stored(backend, error_id=response.json["error_id"])
    assert entry.message.startswith("Ошибка ? жжж")
    assert len(entry.message.encode()) <= TEXT_CAPS["message"]
    assert len(entry.endpoint) == 500


def test_a_hundred_identical_reports_store_a_bounded_number_of_rows(testapp, backend):
    for number in range(100):
        report(visitor(testapp, number), message="TypeError: x is undefined", source="/static/js/app.js", line=12)
    rows = stored(backend, source="CLIENT")
    assert len(rows) == REPEAT_LIMIT.amount == 5
    assert {row.message for row in rows} == {"TypeError: x is undefined (/static/js/app.js:12)"}
    # Another error still gets through.
    report(visitor(testapp, 200), message="RangeError: other", source="/static/js/app.js", line=3)
    assert len(stored(backend, source="CLIENT")) == 6


def test_the_next_stored_repeat_says_how_many_were_left_out(wsgi_app, testapp, backend):
    registry = wsgi_app.registry
    for _ in range(REPEAT_LIMIT.amount + 7):
        write_entry(registry, level="ERROR", source="SERVER_ACTION", endpoint="/x", message="RuntimeError: loop")
    assert len(stored(backend, message="RuntimeError: loop")) == REPEAT_LIMIT.amount
    # When the window has passed (here: the counters are cleared of the limit only), the
    # next entry is stored and carries the count of the left-out ones.
    from orbitflow.ratelimit import rate_limiter

    limiter = rate_limiter(registry)
    fingerprint = limiter.key("system-log", "ERROR", "SERVER_ACTION", "RuntimeError: loop")
    limiter.clear(REPEAT_LIMIT, "system-log-repeats", fingerprint)
    write_entry(registry, level="ERROR", source="SERVER_ACTION", endpoint="/x", message="RuntimeError: loop")
    with backend.engine.connect() as connection:
        latest = connection.scalar(select(SystemLogEntry.message).order_by(SystemLogEntry.id.desc()).limit(1))
        total = connection.scalar(select(func.count()).select_from(SystemLogEntry))
    assert latest == "RuntimeError: loop [7 more like this were not stored]"
    assert total == REPEAT_LIMIT.amount + 1


def test_repeated_server_errors_are_bounded_too(probe_client, backend):
    pages = [probe_client.get("/probe/boom", {"marker": "same"}, status=500) for _ in range(12)]
    # Every visitor still gets an error page with an error id...
    assert all(ERROR_ID.search(page.text) for page in pages)
    # ...but the same failure is stored a bounded number of times, each with its stack.
    rows = stored(backend, source="SERVER_ACTION")
    assert len(rows) == REPEAT_LIMIT.amount
    assert all("Traceback" in row.stack for row in rows)
