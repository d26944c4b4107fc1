"""Settings → Reports time zone: an owner moves the company to another zone and the
numbers follow at once; a bad zone, a missing CSRF token or a manager change nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow.tenants.models import Company
from support import csrf_token

NOV30 = {"from": "2026-11-30", "to": "2026-11-30"}


def test_owner_changes_the_zone_and_the_days_follow(testapp, login_as, owner, kit, company, db):
    # 23:30 UTC on 30 November: 00:30 on 1 December in Berlin, 18:30 on the 30th in New York.
    kit.lead(company, datetime(2026, 11, 30, 23, 30), name="Late")
    kit.flush()
    login_as(owner)
    assert testapp.get("/api/v1/analytics/summary", NOV30).json["leads"] == 0
    page = testapp.get("/settings/time-zone")
    form = next(form for form in page.forms.values() if "time_zone" in form.fields)
    form["time_zone"] = "America/New_York"
    form.submit(status=303)
    assert testapp.get("/api/v1/analytics/summary", NOV30).json["leads"] == 1
    db.expire_all()
    assert db.get(Company, company.id).time_zone == "America/New_York"
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "company.update")).one()
    assert entry.changes == {"time_zone": {"from": "Europe/Berlin", "to": "America/New_York"}}
    assert "Time zone saved" in testapp.get("/settings/time-zone").text
    form = next(form for form in testapp.get("/settings/time-zone").forms.values() if "time_zone" in form.fields)
    assert "Nothing changed." in form.submit(status=303).follow().text
    assert len(db.scalars(select(AuditEntry).where(AuditEntry.action == "company.update")).all()) == 1


def test_refusals_change_nothing(testapp, login_as, owner, make_user, company, unchanged):
    login_as(owner)
    token = csrf_token(testapp)
    with unchanged():
        page = testapp.post("/settings/time-zone", {"time_zone": "Mars/Olympus", "csrf_token": token}, status=400)
        assert "Choose a time zone from the list" in page.text
        testapp.post("/settings/time-zone", {"time_zone": "UTC"}, status=400)
    login_as(make_user(company, "MANAGER"))
    testapp.get("/settings/time-zone", status=403)
