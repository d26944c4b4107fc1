"""Super admin → System log: filters by level, source, endpoint, period and error id; stacks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orbitflow.models.meta import utcnow
from orbitflow.syslog.models import SystemLogEntry


def _log(db, *, days_ago: float = 0, **fields) -> SystemLogEntry:
    values = {
        "level": "ERROR",
        "source": "SERVER_ACTION",
        "endpoint": "/dashboard",
        "method": "GET",
        "status": 500,
        "message": "RuntimeError: boom",
        "error_id": None,
        **fields,
    }
    entry = SystemLogEntry(created_at=utcnow() - timedelta(days=days_ago), **values)
    db.add(entry)
    db.commit()
    return entry


def _messages(page) -> list[str]:
    table = page.html.find("table", class_="syslog")
    return [] if table is None else [row.find_all("td")[4].get_text(strip=True) for row in table.tbody.find_all("tr")]


@pytest.fixture
def entries(db, acme):
    _log(db, message="recent server error", error_id="AAAA11112222", company_id=acme.id)
    _log(db, message="recent client warning", level="WARN", source="CLIENT", endpoint="/leads/board")
    _log(db, message="api info", level="INFO", source="API_ROUTE", endpoint="/api/v1/leads", days_ago=3)
    _log(db, message="ten days old", days_ago=10)
    _log(db, message="forty days old", error_id="OLD000000001", days_ago=40)


def test_default_shows_the_last_seven_days_newest_first(admin_client, entries):
    page = admin_client.get("/admin/system-log", status=200)
    assert _messages(page) == ["recent client warning", "recent server error", "api info"]
    assert page.html.find("nav", class_="subnav").find("a", attrs={"aria-current": "page"}).text == "System log"
    server_error = page.html.find("table", class_="syslog").tbody.find_all("tr")[1]
    assert server_error.find_all("td")[5].text == "acme"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"level": "ERROR"}, ["recent server error"]),
        ({"level": "warn"}, ["recent client warning"]),
        ({"source": "API_ROUTE"}, ["api info"]),
        ({"endpoint": "/api/v1"}, ["api info"]),
        ({"q": "CLIENT WARN"}, ["recent client warning"]),
        ({"period": "30d", "level": "ERROR"}, ["recent server error", "ten days old"]),
        ({"period": "all", "level": "ERROR"}, ["recent server error", "ten days old", "forty days old"]),
        ({"error_id": "old000000001"}, ["forty days old"]),  # found whatever the period
    ],
)
def test_filters(admin_client, entries, params, expected):
    assert _messages(admin_client.get("/admin/system-log", params, status=200)) == expected


def test_custom_date_range(admin_client, entries):
    today = utcnow().date()
    params = {
        "period": "custom",
        "since": (today - timedelta(days=12)).isoformat(),
        "until": (today - timedelta(days=2)).isoformat(),
    }
    assert _messages(admin_client.get("/admin/system-log", params)) == ["api info", "ten days old"]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"level": "LOUD"}, "level", "Choose one of ERROR, WARN, INFO."),
        ({"source": "SPACE"}, "source", "Choose one of CLIENT, SERVER_ACTION, API_ROUTE."),
        ({"period": "custom", "since": "yesterday"}, "since", "Use a date like 2026-05-31."),
        ({"period": "custom", "since": "2026-05-02", "until": "2026-05-01"}, "until", "before the start date"),
    ],
)
def test_bad_filters_say_what_is_wrong(admin_client, entries, params, field, message):
    page = admin_client.get("/admin/system-log", params, status=400)
    assert message in page.html.find(id=f"f-{field}").find_parent("div", class_="field").get_text()
    assert _messages(page) == []


def test_empty_states(admin_client):
    assert "Nothing was logged in this period." in admin_client.get("/admin/system-log").text
    assert "No entries match these filters" in admin_client.get("/admin/system-log", {"level": "WARN"}).text


def test_paging_keeps_the_filters(admin_client, db):
    db.add_all(
        SystemLogEntry(level="WARN", source="CLIENT", message=f"warning {n:02d}", created_at=utcnow())
        for n in range(55)
    )
    db.add(SystemLogEntry(level="ERROR", source="CLIENT", message="an error", created_at=utcnow()))
    db.commit()
    first = admin_client.get("/admin/system-log", {"level": "WARN"})
    assert len(_messages(first)) == 50
    second = first.click(description="Next")
    assert "level=WARN" in second.request.url
    assert len(_messages(second)) == 5 and "an error" not in second.text


def test_entry_page_shows_the_stack(admin_client, acme, acme_owner, db):
    entry = _log(
        db,
        message="KeyError: 'stage'",
        error_id="ABCDEF123456",
        stack='Traceback (most recent call last):\n  File "views.py", line 3\nKeyError: <script>',
        company_id=acme.id,
        user_id=acme_owner.id,
    )
    listing = admin_client.get("/admin/system-log", {"error_id": "ABCDEF123456"})
    page = listing.click(description="KeyError")
    assert page.request.path == f"/admin/system-log/{entry.id}"
    stack = page.html.find("pre", class_="stack").text
    assert "KeyError: <script>" in stack and "<script>" not in page.html.find("pre", class_="stack").decode_contents()
    facts = page.html.find("dl", class_="facts").get_text(" ", strip=True)
    assert "ABCDEF123456" in facts and "Acme Rockets" in facts and "olivia (OWNER)" in facts
    admin_client.get("/admin/system-log/999999", status=404)


def test_company_admins_cannot_read_the_system_log(testapp, login_as, acme, make_user, entries):
    login_as(make_user(acme, "ADMIN"))
    testapp.get("/admin/system-log", status=403)
