"""The company's time zone moves the analytics days at once, whoever changes it: an owner
on Settings → Region and currency or through /api/v1/company/locale, or a super admin through the API; a refused change
recounts nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow.tenants.models import Company
from support import csrf_token

NOV30 = {"from": "2026-11-30", "to": "2026-11-30"}


def _late_lead(kit, company) -> None:
    # 23:30 UTC on 30 November: 00:30 on 1 December in Berlin, 18:30 on the 30th in New York.
    kit.lead(company, datetime(2026, 11, 30, 23, 30), name="Late")
    kit.flush()


def test_owner_changes_the_zone_and_the_days_follow(testapp, login_as, owner, kit, company, db):
    _late_lead(kit, company)
    login_as(owner)
    assert testapp.get("/api/v1/analytics/summary", NOV30).json["leads"] == 0
    form = testapp.get("/settings/region").forms["region-form"]
    form["time_zone"] = "America/New_York"
    form.submit(status=303)
    assert testapp.get("/api/v1/analytics/summary", NOV30).json["leads"] == 1
    db.expire_all()
    assert db.get(Company, company.id).time_zone == "America/New_York"
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "company.update")).one()
    assert entry.changes == {"time_zone": {"from": "Europe/Berlin", "to": "America/New_York"}}


def test_a_super_admin_changes_the_zone_and_the_days_follow(
    testapp, login_as, owner, kit, company, make_user, platform
):
    _late_lead(kit, company)
    root = make_user(platform, "SUPER_ADMIN", username="root")
    login_as(root)
    testapp.patch_json(
        f"/api/v1/admin/companies/{company.id}",
        {"time_zone": "America/New_York"},
        headers={"X-CSRF-Token": csrf_token(testapp)},
        status=200,
    )
    login_as(owner)
    assert testapp.get("/api/v1/analytics/summary", NOV30).json["leads"] == 1


def test_an_owner_changes_the_zone_through_the_api_and_the_days_follow(testapp, login_as, owner, kit, company, db):
    _late_lead(kit, company)
    login_as(owner)
    assert testapp.get("/api/v1/analytics/summary", NOV30).json["leads"] == 0
    testapp.put_json(
        "/api/v1/company/locale",
        {"time_zone": "America/New_York"},
        headers={"X-CSRF-Token": csrf_token(testapp)},
        status=200,
    )
    assert testapp.get("/api/v1/analytics/summary", NOV30).json["leads"] == 1
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "company.update")).one()
    assert entry.changes == {"time_zone": {"from": "Europe/Berlin", "to": "America/New_York"}}


def test_a_refused_zone_recounts_nothing(testapp, login_as, owner, kit, company, unchanged):
    _late_lead(kit, company)
    login_as(owner)
    token = csrf_token(testapp)
    with unchanged():
        page = testapp.post(
            "/settings/region",
            {"phone_region": "", "currency": "USD", "time_zone": "Mars/Olympus", "csrf_token": token},
            status=400,
        )
        assert "Choose a time zone from the list" in page.text
    assert testapp.get("/api/v1/analytics/summary", NOV30).json["leads"] == 0
