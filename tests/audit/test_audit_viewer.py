"""The audit log viewer: company scope, filters, paging, CSV export, append-only."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from pyramid.interfaces import IRoutesMapper
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from orbitflow.audit.models import AuditEntry
from orbitflow.audit.services import AuditEntryIsAppendOnly, record
from orbitflow.shared import shared
from support import csrf_token

DAY = datetime(2026, 3, 10, 12, 0)


def _record(db, company, action: str, *, when: datetime = DAY, **fields) -> AuditEntry:
    entry = record(db, action, company_id=company.id if company else None, **fields)
    entry.created_at = when
    db.commit()
    return entry


def _actions(page) -> list[str]:
    table = page.html.find("table", class_="audit")
    return [] if table is None else [code.text for code in table.tbody.find_all("code")]


def _csv(response) -> list[dict[str, str]]:
    assert response.content_type == "text/csv"
    return list(csv.DictReader(io.StringIO(response.body.decode("utf-8"))))


@pytest.fixture
def beta(make_company):
    return make_company(name="Beta Corp", subscription_id="beta")


@pytest.fixture
def history(db, acme, acme_owner, beta):
    _record(db, acme, "lead.create", actor_id=acme_owner.id, actor_name="olivia", target_type="lead", target_id=7)
    _record(
        db,
        acme,
        "lead.update",
        actor_id=acme_owner.id,
        actor_name="olivia",
        target_type="lead",
        target_id=7,
        changes={"name": {"from": "Old name", "to": "New name"}, "value": {"from": None, "to": 120}},
        when=DAY + timedelta(days=1),
    )
    _record(db, acme, "user.create", actor_name="root", target_type="user", target_id=3, when=DAY + timedelta(days=2))
    _record(db, beta, "lead.create", actor_name="bob", target_type="lead", target_id=9, when=DAY + timedelta(days=3))


@pytest.fixture
def owner_client(testapp, login_as, acme_owner):
    return login_as(acme_owner)


def test_owner_sees_only_their_company(owner_client, history):
    page = owner_client.get("/audit", status=200)
    # newest first; beta's entry is never shown, nor are the owner's own login entries hidden
    assert _actions(page)[-3:] == ["user.create", "lead.update", "lead.create"]
    assert "bob" not in page.html.find("table", class_="audit").get_text()
    assert page.html.find("th", string="Company") is None


def test_changes_are_shown_before_and_after(owner_client, history):
    page = owner_client.get("/audit", {"action": "lead.update"})
    changes = page.html.find("dl", class_="changes")
    assert [dt.text for dt in changes.find_all("dt")] == ["name", "value"]
    assert changes.find("del").text == "Old name" and changes.find("ins").text == "New name"
    assert changes.find_all("dd")[1].get_text(" ", strip=True) == "— → 120"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"actor": "OLI"}, ["lead.update", "lead.create"]),
        ({"action": "lead.create"}, ["lead.create"]),
        ({"action": "lead.*"}, ["lead.update", "lead.create"]),
        ({"target_type": "user"}, ["user.create"]),
        ({"target_type": "lead", "target_id": "7"}, ["lead.update", "lead.create"]),
        ({"since": "2026-03-11", "until": "2026-03-11"}, ["lead.update"]),
        ({"since": "2026-03-12"}, ["user.create"]),
        ({"action": "lead.*", "until": "2026-03-10"}, ["lead.create"]),
        ({"actor": "nobody"}, []),
    ],
)
def test_filters(owner_client, history, params, expected):
    page = owner_client.get("/audit", {**params, **({"until": params.get("until", "2026-03-31")})}, status=200)
    assert _actions(page) == expected


def test_actor_id_filter_comes_from_the_actor_link(owner_client, history, acme_owner):
    page = owner_client.get("/audit", {"until": "2026-03-31"})
    filtered = page.click(href=f"actor_id={acme_owner.id}", index=0)
    assert _actions(filtered) == ["lead.update", "lead.create"]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"since": "10/03/2026"}, "since", "Use a date like 2026-05-31."),
        ({"since": "2026-03-12", "until": "2026-03-11"}, "until", "The end date is before the start date."),
        ({"actor": "x" * 201}, "actor", "Use at most 200 characters."),
    ],
)
def test_bad_filters_say_what_is_wrong(owner_client, history, params, field, message):
    page = owner_client.get("/audit", params, status=400)
    field_box = page.html.find("form", id="audit-filters").find(attrs={"name": field}).find_parent("div")
    assert message in field_box.get_text()
    assert _actions(page) == []
    assert "Fix the filters above" in page.text


def test_empty_states(owner_client, history):
    assert "No entries match these filters." in owner_client.get("/audit", {"actor": "nobody"}).text


def test_paging_keeps_the_filters(owner_client, db, acme):
    for number in range(60):
        _record(db, acme, "lead.create", actor_name="bulk", target_id=number, when=DAY + timedelta(minutes=number))
    _record(db, acme, "user.create", actor_name="other")
    first = owner_client.get("/audit", {"actor": "bulk"})
    assert len(_actions(first)) == 50
    assert "1\N{EN DASH}50 of 60" in first.text
    second = first.click(description="Next")
    assert "actor=bulk" in second.request.url and "page=2" in second.request.url
    assert len(_actions(second)) == 10
    assert second.click(description="Previous").request.url.endswith("actor=bulk")
    # a page number past the end shows the last page
    assert len(_actions(owner_client.get("/audit", {"actor": "bulk", "page": "99"}))) == 10


@pytest.mark.parametrize("role", ["MANAGER", "AGENT", "VIEWER"])
def test_only_owners_admins_and_super_admins_read_it(testapp, login_as, acme, make_user, role):
    login_as(make_user(acme, role))
    testapp.get("/audit", status=403)
    testapp.get("/audit/export.csv", status=403)
    testapp.get("/admin/audit", status=403)


def test_company_admin_reads_it_but_not_the_platform_log(testapp, login_as, acme, make_user, history):
    login_as(make_user(acme, "ADMIN"))
    assert "lead.update" in _actions(testapp.get("/audit", status=200))
    testapp.get("/admin/audit", status=403)
    testapp.get("/admin/audit/export.csv", status=403)


def test_anonymous_is_sent_to_sign_in(testapp):
    assert "/login?next=%2Faudit" in testapp.get("/audit", status=302).location


def test_export_csv_holds_the_filtered_company_rows(owner_client, history, acme, db):
    response = owner_client.get("/audit/export.csv", {"action": "lead.*"}, status=200)
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="audit-{acme.id}-')
    rows = _csv(response)
    assert [row["action"] for row in rows] == ["lead.update", "lead.create"]
    assert rows[0]["changes"] == "name: Old name → New name; value: — → 120"
    assert rows[0]["time_utc"] == "2026-03-11T12:00:00Z"
    assert rows[0]["company"] == "acme"
    assert {row["actor"] for row in rows} == {"olivia"}
    # The export itself is recorded, with its filters.
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export")).one()
    assert entry.company_id == acme.id and entry.changes == {"filters": {"action": "lead.*"}, "rows": 2}


def test_export_defuses_formulas_and_escapes_cells(owner_client, db, acme):
    nasty = {
        '=HYPERLINK("http://evil")': "=",
        "+SUM(A1)": "+",
        "-2+3": "-",
        "@cmd": "@",
        "\tTAB": "\t",
    }
    for value in nasty:
        _record(db, acme, "lead.update", actor_name=value, changes={"note": {"from": 'say "hi", ok', "to": "a\nb"}})
    rows = _csv(owner_client.get("/audit/export.csv", {"action": "lead.update"}))
    assert sorted(row["actor"] for row in rows) == sorted("'" + value for value in nasty)
    assert rows[0]["changes"] == 'note: say "hi", ok → a\nb'


def test_export_of_a_large_log_streams_every_row(owner_client, db, acme):
    db.add_all(
        AuditEntry(company_id=acme.id, action="lead.import", actor_name="import", created_at=DAY) for _ in range(2500)
    )
    db.commit()
    response = owner_client.get("/audit/export.csv", {"action": "lead.import"})
    rows = _csv(response)
    assert len(rows) == 2500
    assert len({row["id"] for row in rows}) == 2500


def test_export_with_bad_filters_goes_back_with_a_message(owner_client, history):
    response = owner_client.get("/audit/export.csv", {"since": "nope"}, status=303)
    assert "Fix the filters before exporting" in response.follow().text


def test_super_admin_reads_every_company(admin_client, history, acme, beta):
    assert admin_client.get("/audit", {"action": "lead.*"}, status=302).location.endswith(
        "/admin/audit?action=lead.%2A"
    )
    page = admin_client.get("/admin/audit", {"action": "lead.*"}, status=200)
    table = page.html.find("table", class_="audit")
    assert _actions(page) == ["lead.create", "lead.update", "lead.create"]
    assert [row.find_all("td")[1].get_text(strip=True) for row in table.tbody.find_all("tr")] == [
        "beta",
        "acme",
        "acme",
    ]
    assert page.html.find("nav", class_="subnav").find("a", attrs={"aria-current": "page"}).text == "Audit log"
    only_beta = admin_client.get("/admin/audit", {"company_id": beta.id})
    assert _actions(only_beta) == ["lead.create"]
    rows = _csv(admin_client.get("/admin/audit/export.csv", {"action": "lead.*"}))
    assert [row["company"] for row in rows] == ["beta", "acme", "acme"]
    rows = _csv(admin_client.get("/admin/audit/export.csv", {"company_id": beta.id}))
    assert [row["actor"] for row in rows] == ["bob"]


def test_super_admin_company_filter_must_be_a_number(admin_client):
    page = admin_client.get("/admin/audit", {"company_id": "acme"}, status=400)
    assert "Use a positive whole number." in page.text
    # A number beyond the id range names no row: nothing matches.
    assert _actions(admin_client.get("/admin/audit", {"company_id": "9" * 30})) == []
    assert admin_client.get("/api/v1/audit", {"actor_id": "9" * 30}).json["items"] == []


def test_audit_routes_only_read(wsgi_app):
    """Append-only: no route of the audit log accepts a method that could change it."""
    registry = wsgi_app.registry
    mapper = registry.queryUtility(IRoutesMapper)
    audit_routes = {r.name for r in mapper.get_routes() if "audit" in r.pattern}
    assert {"audit", "audit_export", "admin_audit", "admin_audit_export", "api_audit"} <= audit_routes
    for view in registry.introspector.get_category("views"):
        intr = view["introspectable"]
        if intr["route_name"] in audit_routes:
            methods = intr["request_methods"]
            methods = {methods} if isinstance(methods, str) else set(methods or ("ANY",))
            assert methods <= {"GET", "HEAD"}, intr["route_name"]


def test_unsafe_methods_on_the_audit_log_are_refused(owner_client, history, db):
    count = db.scalar(select(func.count()).select_from(AuditEntry))
    token = csrf_token(owner_client)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = owner_client.request("/audit", method=method, headers={"X-CSRF-Token": token}, expect_errors=True)
        assert response.status_int in (404, 405)
    db.expire_all()
    # The owner's page views added nothing, and nothing went away.
    assert db.scalar(select(func.count()).select_from(AuditEntry)) == count


def test_audit_entries_cannot_be_changed_through_the_application_session(history, wsgi_app):
    session = shared(wsgi_app.registry, sessionmaker)()
    session.info["tenant_bypass"] = True
    try:
        entry = session.scalars(select(AuditEntry)).first()
        entry.action = "lead.forged"
        with pytest.raises(AuditEntryIsAppendOnly):
            session.flush()
        session.rollback()
        session.delete(session.scalars(select(AuditEntry)).first())
        with pytest.raises(AuditEntryIsAppendOnly):
            session.flush()
    finally:
        session.rollback()
        session.close()
