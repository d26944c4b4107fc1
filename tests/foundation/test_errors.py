"""Error handling: friendly pages in the product's layout, JSON under /api/, and every
unhandled error in the system log, stored in a transaction of its own."""

from __future__ import annotations

import io
import re
import time

import pytest
from sqlalchemy import func, select
from webtest import TestRequest

from foundation.conftest import PROBE_MAX_BODY
from orbitflow.syslog.models import SystemLogEntry
from orbitflow.tenants.models import Company
from support import csrf_token, login

ERROR_ID = re.compile(r"Error id: <code>([0-9A-F]{12})</code>")


def log_entries(backend, **where) -> list[SystemLogEntry]:
    """Read the system log through a connection of its own (committed rows only)."""
    query = select(SystemLogEntry).filter_by(**where).order_by(SystemLogEntry.id)
    with backend.engine.connect() as connection:
        return [
            SystemLogEntry(**row._mapping)
            for row in connection.execute(query.with_only_columns(*SystemLogEntry.__table__.c))
        ]


def company_exists(backend, name: str) -> bool:
    with backend.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Company).where(Company.name == name)) > 0


def assert_product_layout(page) -> None:
    assert page.content_type == "text/html"
    assert '<a class="brand"' in page.text
    assert 'name="csrf-token"' in page.text
    assert "app.css" in page.text


def test_not_found_page_uses_the_layout(probe_client):
    page = probe_client.get("/no/such/page", status=404)
    assert_product_layout(page)
    assert "Page not found" in page.text
    assert "Traceback" not in page.text


def test_not_found_under_api_is_json(probe_client):
    response = probe_client.get("/api/v1/no-such-thing", status=404)
    assert response.content_type == "application/json"
    assert response.json == {"error": {"code": "not_found", "message": "Not found."}}


def test_unhandled_error_page_shows_the_error_id_stored_in_its_own_transaction(probe_client, backend):
    started = time.monotonic()
    page = probe_client.get("/probe/boom", {"name": "Doomed Html", "marker": "html-1"}, status=500)
    # The failed request held a write lock (one writer on SQLite): storing the entry must
    # not wait for it.
    assert time.monotonic() - started < 5
    assert_product_layout(page)
    assert "Something went wrong" in page.text
    assert "Traceback" not in page.text and "ProbeFailure" not in page.text
    error_id = ERROR_ID.search(page.text).group(1)
    [entry] = log_entries(backend, error_id=error_id)
    assert (entry.level, entry.source, entry.endpoint, entry.method, entry.status) == (
        "ERROR",
        "SERVER_ACTION",
        "/probe/boom",
        "GET",
        500,
    )
    assert entry.message == "ProbeFailure: probe failure html-1"
    assert "Traceback" in entry.stack and "ProbeFailure" in entry.stack
    assert entry.company_id is None and entry.user_id is None
    # The request's own write was rolled back.
    assert not company_exists(backend, "Doomed Html")


def test_unhandled_error_under_api_is_json_with_the_error_id(probe_client, backend):
    response = probe_client.get("/api/probe/boom", {"name": "Doomed Api", "marker": "api-1"}, status=500)
    assert response.content_type == "application/json"
    error = response.json["error"]
    assert error["code"] == "server_error"
    error_id = re.search(r"error id ([0-9A-F]{12})", error["message"]).group(1)
    [entry] = log_entries(backend, error_id=error_id)
    assert entry.source == "API_ROUTE"
    assert entry.message == "ProbeFailure: probe failure api-1"
    assert not company_exists(backend, "Doomed Api")


def test_error_of_a_signed_in_user_names_them_and_keeps_the_navigation(probe_client, backend, make_company, make_user):
    company = make_company(name="Known Co")
    user = make_user(company, "OWNER")
    login(probe_client, user)
    page = probe_client.get("/probe/boom", {"name": "Doomed Signed"}, status=500)
    assert_product_layout(page)
    assert "Known Co" in page.text  # the company name in the top bar: the full layout
    assert ">Dashboard</a>" in page.text
    error_id = ERROR_ID.search(page.text).group(1)
    [entry] = log_entries(backend, error_id=error_id)
    assert (entry.company_id, entry.user_id) == (company.id, user.id)


@pytest.mark.parametrize("kind", ["integrity", "sql"])
def test_error_page_renders_when_the_database_session_is_broken(probe_client, backend, make_company, make_user, kind):
    user = make_user(make_company(name="Broken Session Co"), "OWNER")
    login(probe_client, user)
    page = probe_client.get("/probe/boom", {"name": f"Doomed {kind}", "kind": kind}, status=500)
    assert_product_layout(page)
    error_id = ERROR_ID.search(page.text).group(1)
    [entry] = log_entries(backend, error_id=error_id)
    assert entry.message.split(":")[0] in {"IntegrityError", "ProgrammingError", "OperationalError"}
    assert not company_exists(backend, f"Doomed {kind}")


def test_each_error_gets_its_own_entry_and_id(probe_client, backend):
    ids = {ERROR_ID.search(probe_client.get("/probe/boom", status=500).text).group(1) for _ in range(3)}
    assert len(ids) == 3
    assert all(len(log_entries(backend, error_id=error_id)) == 1 for error_id in ids)


# Browser errors.


def report(client, token: str, status: int, **body):
    payload = {"message": "TypeError: x is undefined", "source": "/static/js/app.js", "line": 12, "page": "/dashboard"}
    payload.update(body)
    return client.post_json("/api/client-errors", payload, headers={"X-CSRF-Token": token}, status=status)


def test_browser_errors_are_stored_as_client_entries(probe_client, backend):
    token = csrf_token(probe_client)
    response = report(probe_client, token, 201, message="ReferenceError: chart is not defined")
    [entry] = log_entries(backend, error_id=response.json["error_id"])
    assert (entry.level, entry.source, entry.endpoint) == ("ERROR", "CLIENT", "/dashboard")
    assert entry.message.startswith("ReferenceError: chart is not defined")


def test_browser_error_reports_are_rate_limited(probe_client, backend):
    token = csrf_token(probe_client)
    for number in range(20):
        report(probe_client, token, 201, message=f"TypeError: error {number}")
    refused = report(probe_client, token, 429)
    assert refused.json["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    assert len(log_entries(backend, source="CLIENT")) == 20


def test_browser_error_reports_need_the_csrf_token_and_a_message(probe_client, backend):
    token = csrf_token(probe_client)
    probe_client.post_json("/api/client-errors", {"message": "no token"}, status=400)
    bad = report(probe_client, token, 422, message=None)
    assert bad.json["error"]["fields"] == {"message": "required"}
    assert log_entries(backend, source="CLIENT") == []


# The request body cap.


def test_oversized_api_body_is_refused_with_413_and_changes_nothing(probe_client, backend):
    token = csrf_token(probe_client)
    response = report(probe_client, token, 413, message="x" * (PROBE_MAX_BODY + 1))
    assert response.content_type == "application/json"
    assert response.json["error"]["code"] == "payload_too_large"
    assert str(PROBE_MAX_BODY) in response.json["error"]["message"]
    assert log_entries(backend) == []
    # Just under the limit is fine.
    report(probe_client, token, 201, message="x" * (PROBE_MAX_BODY - 200))


def test_oversized_form_is_refused_with_a_page(probe_client, make_company, make_user):
    user = make_user(make_company(), "OWNER")
    token = csrf_token(probe_client)
    form = {"subscription_id": user.company.subscription_id, "username": user.username, "password": "x" * 5000}
    page = probe_client.post("/login", {**form, "csrf_token": token}, status=413)
    assert_product_layout(page)
    assert "orbitflow_session" not in probe_client.cookies


class CountingStream(io.RawIOBase):
    """A chunked upload as a server hands it over: no length, cannot seek; counts what the
    app reads of it."""

    def __init__(self, body: bytes) -> None:
        self._source = io.BytesIO(body)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)


def chunked_request(token: str, body: bytes) -> tuple[TestRequest, CountingStream]:
    request = TestRequest.blank("/api/client-errors", method="POST", headers={"X-CSRF-Token": token})
    request.environ.pop("CONTENT_LENGTH", None)
    request.environ.pop("webob.is_body_seekable", None)
    request.environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    request.environ["wsgi.input_terminated"] = True  # as waitress says of a chunked body
    request.environ["CONTENT_TYPE"] = "application/json"
    stream = CountingStream(body)
    request.environ["wsgi.input"] = stream
    return request, stream


def test_chunked_body_without_a_length_is_capped_too(probe_client, backend):
    """Refused after reading one byte past the limit, not after buffering the whole body
    (the app retries requests, as production.ini says: ``retry.attempts = 3``)."""
    assert int(probe_client.app.registry.settings["retry.attempts"]) == 3
    token = csrf_token(probe_client)
    body = b'{"message": "' + b"y" * 800_000 + b'"}'
    request, stream = chunked_request(token, body)
    response = probe_client.do_request(request, status=413)
    assert response.json["error"]["code"] == "payload_too_large"
    assert stream.bytes_read <= PROBE_MAX_BODY + 1
    assert log_entries(backend) == []


def test_a_chunked_body_under_the_limit_reaches_the_view(probe_client, backend):
    token = csrf_token(probe_client)
    request, _ = chunked_request(token, b'{"message": "chunked and small"}')
    probe_client.do_request(request, status=201)
    assert [entry.message for entry in log_entries(backend, source="CLIENT")] == ["chunked and small (:0)"]
