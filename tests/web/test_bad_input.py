"""Bad input answers 4xx with a clear message, never 500 (issue 9, item 5), and changes
nothing: each request below is one from the issue, as it was sent."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest
import webtest

from orbitflow.leads.models import Lead
from orbitflow.shared import shared
from orbitflow.syslog.models import SystemLogEntry
from orbitflow.web.inputs import MAX_PAGE
from orbitflow_plugins.quiz.cache import DefinitionCache
from support import csrf_token
from web.conftest import database_state

HUGE = "1" + "0" * 25  # 10^25: beyond any id column
NESTED = "[" * 4096


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # {sub}, {slug} and {quiz} are the demo company's quiz
    status: int
    message: str
    body: bytes | None = None
    content_type: str | None = None
    signed_in: bool = False
    json: bool = False  # the answer is the JSON error shape (else the product's error page)
    headers: dict[str, str] = field(default_factory=dict)


def _multipart(fields: list[tuple[str, str, str | None]]) -> tuple[bytes, str]:
    """A multipart/form-data body: (name, value, filename or None)."""
    boundary = "orbitflowboundary"
    parts = []
    for name, value, filename in fields:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        kind = "Content-Type: text/plain\r\n" if filename else ""
        parts.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n{kind}\r\n{value}\r\n")
    body = "".join(parts) + f"--{boundary}--\r\n"
    return body.encode(), f"multipart/form-data; boundary={boundary}"


TOKEN_FILE, MULTIPART = _multipart([("token", "1.2.abcdefgh.sig", "token.txt"), ("name", "Ada", None)])

# fmt: off
CASES = {
    # Bad percent-escapes, in the query string and in the path.
    "login next=%ff": Case("GET", "/login?next=%ff", 400, "query string is not valid UTF-8"),
    "quiz utm_source=%ff": Case("GET", "/q/{sub}/{slug}?utm_source=%ff", 400, "query string is not valid UTF-8"),
    "quiz path %ff": Case("GET", "/q/%ff/x", 400, "The address is not valid UTF-8"),
    "api path %ff": Case("GET", "/api/v1/leads/%ff", 400, "The address is not valid UTF-8", json=True),
    "NUL in a query": Case("GET", "/leads?q=a%00b", 400, "NUL character", signed_in=True),
    # Unknown charsets.
    "quiz page charset=bogus": Case(
        "POST", "/q/{sub}/{slug}", 400, "charset=bogus is not supported",
        body=b"name=Ada", content_type="application/x-www-form-urlencoded; charset=bogus",
    ),
    "events charset=bogus": Case(
        "POST", "/q/{sub}/{slug}/events", 400, "charset=bogus is not supported",
        body=b'{"kind": "start"}', content_type="application/json; charset=bogus", json=True,
    ),
    # Deep nesting.
    "events nested [[[": Case(
        "POST", "/q/{sub}/{slug}/events", 400, "nested too deeply",
        body=NESTED.encode(), content_type="application/json", json=True,
    ),
    "client-errors nested [[[": Case(
        "POST", "/api/client-errors", 400, "nested too deeply",
        body=NESTED.encode(), content_type="application/json", json=True,
    ),
    # A multipart form whose token is a file.
    "quiz page multipart token file": Case(
        "POST", "/q/{sub}/{slug}", 400, "The form field “token” takes text, not a file",
        body=TOKEN_FILE, content_type=MULTIPART,
    ),
    # JSON that is valid syntax but not text or numbers a database can keep.
    "lone surrogate": Case(
        "POST", "/api/v1/leads", 400, "lone surrogate",
        body=b'{"name": "\\ud800"}', content_type="application/json", signed_in=True, json=True,
    ),
    "value 1e400": Case(
        "POST", "/api/v1/leads", 400, "The number 1e400 is too large",
        body=b'{"name": "Ada", "value": 1e400}', content_type="application/json", signed_in=True, json=True,
    ),
    "NaN": Case(
        "POST", "/api/v1/leads", 400, "NaN is not a JSON number",
        body=b'{"name": "Ada", "value": NaN}', content_type="application/json", signed_in=True, json=True,
    ),
    "NUL in JSON": Case(
        "POST", "/api/v1/leads", 400, "NUL character",
        body=b'{"name": "a\\u0000b"}', content_type="application/json", signed_in=True, json=True,
    ),
    "form not UTF-8": Case(
        "POST", "/leads/new", 400, "The form is not valid UTF-8",
        body=b"name=Ada%ff", content_type="application/x-www-form-urlencoded", signed_in=True,
    ),
    "NUL in a form field": Case(
        "POST", "/leads/new", 400, "NUL character",
        body=b"name=a%00b", content_type="application/x-www-form-urlencoded", signed_in=True,
    ),
    # Ids beyond the column's range are simply not found.
    "lead 10^25": Case("GET", f"/leads/{HUGE}", 404, "does not exist", signed_in=True),
    "api lead 10^25": Case("GET", f"/api/v1/leads/{HUGE}", 404, "No such lead.", signed_in=True, json=True),
    "api lead move 10^25": Case(
        "POST", f"/api/v1/leads/{HUGE}/move", 404, "No such lead.",
        body=b'{"stage_id": 1, "position": 0, "version": 1}', content_type="application/json",
        signed_in=True, json=True,
    ),
    "api stage 10^25": Case(
        "PATCH", f"/api/v1/stages/{HUGE}", 404, "No such stage.",
        body=b'{"name": "X"}', content_type="application/json", signed_in=True, json=True,
    ),
    "stage delete 10^25": Case(
        "POST", f"/pipeline/stages/{HUGE}/delete", 404, "does not exist",
        body=b"move_to=1", content_type="application/x-www-form-urlencoded", signed_in=True,
    ),
    "pixels quiz 10^25": Case(
        "POST", "/settings/pixels", 400, "Choose quizzes of this company.",
        body=f"quiz_listed={HUGE}&quiz_listed=%C2%B2".encode(), content_type="application/x-www-form-urlencoded",
        signed_in=True,
    ),
    "pipeline column 10^25": Case("GET", f"/pipeline/column/{HUGE}", 404, "does not exist", signed_in=True),
    "quiz 10^25": Case("GET", f"/quizzes/{HUGE}", 404, "does not exist", signed_in=True),
    "api quiz 10^25": Case("GET", f"/api/v1/quizzes/{HUGE}", 404, "", signed_in=True, json=True),
    "quiz question 10^25": Case("GET", f"/quizzes/{{quiz}}/questions/{HUGE}", 404, "does not exist", signed_in=True),
    "quiz outcome 10^25": Case("GET", f"/quizzes/{{quiz}}/outcomes/{HUGE}", 404, "does not exist", signed_in=True),
    "quiz submissions 10^25": Case("GET", f"/quizzes/{HUGE}/submissions", 404, "does not exist", signed_in=True),
    "lead in other script's digits": Case("GET", "/leads/%D9%A1", 404, "does not exist", signed_in=True),
    # Huge page numbers and non-ASCII digits in the API's filters.
    "api page 10^25": Case(
        "GET", f"/api/v1/leads?page={HUGE}", 400, "Check these parameters: page.",
        signed_in=True, json=True,
    ),
    "api per_page 10^25": Case(
        "GET", f"/api/v1/leads?per_page={HUGE}", 400, "Check these parameters: per_page.",
        signed_in=True, json=True,
    ),
    "api owner_id=²": Case(
        "GET", "/api/v1/leads?owner_id=%C2%B2", 400, "Some filters are not valid.", signed_in=True, json=True,
    ),
    "api stage_id=²": Case(
        "GET", "/api/v1/leads?stage_id=%C2%B2", 400, "Check these parameters: stage_id.", signed_in=True, json=True,
    ),
}
# fmt: on


def _send(client: webtest.TestApp, world, case: Case) -> webtest.TestResponse:
    headers = {"Accept": "application/json" if case.json else "text/html", **case.headers}
    if case.content_type:
        headers["Content-Type"] = case.content_type
    if case.method != "GET" and case.signed_in:
        headers["X-CSRF-Token"] = csrf_token(client)
    return client.request(
        world.fill(case.path), method=case.method, body=case.body or b"", headers=headers, expect_errors=True
    )


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_answers_4xx_with_a_message_and_changes_nothing(case, world, testapp, login_as, db, errors_logged):
    client = login_as(world.owner) if case.signed_in else testapp
    before = database_state(db)
    response = _send(client, world, case)
    assert response.status_int == case.status, response.text[:500]
    if case.json:
        assert response.content_type == "application/json"
        error = response.json["error"]
        assert error["code"] == ("bad_request" if case.status == 400 else "not_found")
        assert case.message in error["message"]
    else:
        assert response.content_type == "text/html"
        assert case.message in response.text
        # The product's error page, in its layout, with the request id.
        assert 'name="csrf-token"' in response.text
    assert database_state(db) == before
    assert db.query(SystemLogEntry).count() == 0
    assert errors_logged() == []


def test_a_multipart_form_with_text_fields_is_read_as_usual(world, testapp, db):
    """Multipart is a form encoding like another: the quiz page takes it (and refuses the
    stale token as it would in any encoding), the CSV import still takes its file."""
    page = testapp.get(world.fill("/q/{sub}/{slug}"))
    body, content_type = _multipart([("token", "1.2.abcdefgh.sig", None), ("name", "Ada", None)])
    response = testapp.post(
        world.fill("/q/{sub}/{slug}"), body, headers={"Content-Type": content_type}, expect_errors=True
    )
    assert page.status_int == 200
    assert response.status_int == 400
    assert "takes text, not a file" not in response.text
    assert db.query(Lead).filter(Lead.name == "Ada").count() == 0


def test_the_csv_import_still_takes_a_file(world, login_as):
    client = login_as(world.owner)
    page = client.get("/leads/import")
    form = next(form for form in page.forms.values() if "file" in form.fields)
    form["file"] = webtest.Upload("leads.csv", b"name,email\nGrace Hopper,grace@example.com\n", "text/csv")
    response = form.submit()
    assert response.status_int == 303
    assert "/leads/import/" in response.headers["Location"]


def test_huge_numbers_in_html_lists_and_filters_find_nothing_or_clamp(world, login_as):
    client = login_as(world.owner)
    # A page past the end shows the last page.
    assert "Walk Lead" in client.get("/leads", {"page": HUGE}).text
    # Ids beyond the range name no row: nothing matches, nothing fails.
    assert "Walk Lead" not in client.get("/leads", {"owner": HUGE}).text
    assert "Walk Lead" not in client.get("/leads", {"stage_id": HUGE}).text
    assert client.get("/api/v1/leads", {"stage_id": HUGE}).json["items"] == []
    assert client.get("/api/v1/leads", {"owner_id": HUGE}).json["items"] == []
    assert [item["name"] for item in client.get("/api/v1/leads", {"stage_id": world.stage.id}).json["items"]] == [
        "Walk Lead"
    ]


def test_the_audit_log_reads_up_to_the_last_day_there_is(world, login_as, db):
    client = login_as(world.owner)
    client.post("/leads/new", {"name": "Audited", "csrf_token": csrf_token(client)}, status=303)
    page = client.get("/audit", {"until": "9999-12-31"})
    assert "lead.create" in page.text
    assert client.get("/api/v1/audit", {"until": "9999-12-31"}).json["total"] >= 1
    assert client.get("/audit", {"since": "9999-12-31"}).status_int == 200


def test_next_with_non_ascii_after_sign_in_is_percent_encoded(world, testapp):
    token = csrf_token(testapp)
    response = testapp.post(
        "/login",
        {
            "subscription_id": "demo",
            "username": "olivia",
            "password": "Correct-Horse-42",
            "csrf_token": token,
            "next": "/。",
        },
        status=303,
    )
    location = response.headers["Location"]
    assert location == "http://localhost/%E3%80%82"
    location.encode("ascii")  # a header waitress can send


def test_the_api_document_states_the_paging_bounds_the_api_enforces(testapp, db):
    document = testapp.get("/api/v1/openapi.json").json
    paged = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            params = {param["name"]: param["schema"] for param in operation.get("parameters", [])}
            if "page" in params:
                paged.append(f"{method} {path}")
                assert params["page"]["minimum"] == 1 and params["page"]["maximum"] == MAX_PAGE, path
                assert params["per_page"]["minimum"] == 1 and params["per_page"]["maximum"] == 100, path
    assert len(paged) >= 7  # leads, users, audit, quizzes, companies, webhook and pixel deliveries


def test_an_html_list_reads_a_hand_edited_page_leniently(world, login_as):
    client = login_as(world.owner)
    for page in ("abc", "²", HUGE, "-3"):
        response = client.get(world.fill("/quizzes/{quiz}/submissions"), {"page": page})
        assert response.status_int == 200 and response.content_type == "text/html"
        assert world.quiz.title in response.text


def test_a_quiz_page_served_from_the_process_cache_still_renders(world, testapp, wsgi_app):
    """Found by the hostile walk: a page answered from the cache, without asking the
    database, had a session bound to no company, and the pixels' hook failed on it."""
    path = world.fill("/q/{sub}/{slug}")
    cache = shared(wsgi_app.registry, DefinitionCache)
    key = (world.company.subscription_id, world.quiz.slug)
    deadline = time.monotonic() + 15
    while cache.recent(key) is None and time.monotonic() < deadline:
        testapp.get(path, status=200)
        time.sleep(0.05)
    assert cache.recent(key) is not None  # the next page view comes from the cache
    page = testapp.get(path, status=200)
    assert world.quiz.title in page.text
