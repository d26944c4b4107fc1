"""The super admin's platform overview counts every company's leads and quiz submissions
per day; company users are refused."""

from __future__ import annotations

from datetime import timedelta

from orbitflow.models.meta import utcnow


def test_super_admin_sees_companies_users_and_leads_per_day(testapp, login_as, platform, make_company, make_user, kit):
    admin = make_user(platform, "SUPER_ADMIN", username="root")
    first, second = make_company(name="One"), make_company(name="Two")
    make_user(first, "OWNER")
    make_user(second, "AGENT", is_active=False)
    now = utcnow()
    kit.lead(first, now, name="Today one")
    kit.lead(second, now, name="Today two")
    kit.lead(second, now - timedelta(days=1), name="Yesterday")
    login_as(admin)
    page = testapp.get("/admin/overview")
    assert page.html.select_one('[data-kpi="companies"]').text == "2"
    rows = {
        tr.select("td")[0].text: tr.select("td")[1].text for tr in page.html.select("#table-platform_days tbody tr")
    }
    assert rows[now.date().isoformat()] == "2"
    assert rows[(now - timedelta(days=1)).date().isoformat()] == "1"
    assert "Platform overview" in testapp.get("/admin/companies").text
    # The admin's own sign-in session makes one active user.
    assert page.html.select_one('[data-kpi="active_users"]').text == "1"


def test_company_owners_cannot_open_it(testapp, login_as, owner):
    login_as(owner)
    testapp.get("/admin/overview", status=403)
