"""Settings → Region and currency: owners and admins choose the company's country, currency
and time zone; the change is audited with its diff and shown at once. Other roles, a
missing CSRF token and unknown values change nothing; another company is untouched."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow.tenants.models import Company
from support import csrf_token
from tenants.localecases import BAD_LOCALE_VALUES

PAGE = "/settings/region"


@pytest.fixture
def company(make_company):
    return make_company(name="Locale Co")


@pytest.fixture
def owner(make_user, company):
    return make_user(company, "OWNER", username="oskar")


def _updates(db, company_id: int) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == "company.update", AuditEntry.company_id == company_id)
    return list(db.scalars(query))


def _saved(db, company_id: int) -> tuple:
    db.expire_all()
    company = db.get(Company, company_id)
    return company.phone_region, company.currency, company.time_zone


def test_owner_sets_country_currency_and_zone(testapp, login_as, owner, company, db):
    login_as(owner)
    page = testapp.get(PAGE)
    assert "Region and currency" in page.html.select_one("title").text
    assert testapp.get("/dashboard").html.find("a", string="Region and currency")["href"].endswith(PAGE)
    form = page.forms["region-form"]
    assert (form["phone_region"].value, form["currency"].value, form["time_zone"].value) == ("", "USD", "")
    assert page.html.select_one('#f-phone_region option[value=""]').text == "The installation's (United States)"
    assert page.html.select_one('#f-time_zone option[value=""]').text == "The installation's (UTC)"
    form["phone_region"], form["currency"], form["time_zone"] = "DE", "EUR", "Europe/Berlin"
    saved = form.submit(status=303).follow()
    assert "Region and currency saved" in saved.text
    assert _saved(db, company.id) == ("DE", "EUR", "Europe/Berlin")
    shown = saved.forms["region-form"]
    assert (shown["phone_region"].value, shown["currency"].value) == ("DE", "EUR")
    assert "1.250,50\xa0€" in saved.text and ("CET" in saved.text or "CEST" in saved.text)
    (entry,) = _updates(db, company.id)
    assert entry.actor_id == owner.id
    assert entry.changes == {
        "currency": {"from": "USD", "to": "EUR"},
        "phone_region": {"from": None, "to": "DE"},
        "time_zone": {"from": None, "to": "Europe/Berlin"},
    }
    # Saving the same again writes nothing; going back to the installation's is a change.
    assert "Nothing changed." in saved.forms["region-form"].submit(status=303).follow().text
    assert len(_updates(db, company.id)) == 1
    form = testapp.get(PAGE).forms["region-form"]
    form["phone_region"], form["time_zone"] = "", ""
    form.submit(status=303)
    assert _saved(db, company.id) == (None, "EUR", None)
    assert _updates(db, company.id)[-1].changes["time_zone"] == {"from": "Europe/Berlin", "to": None}


def test_an_admin_may_and_other_roles_may_not(testapp, login_as, make_user, company, db, unchanged):
    login_as(make_user(company, "ADMIN"))
    testapp.get(PAGE, status=200)
    for role in ("MANAGER", "AGENT", "VIEWER"):
        login_as(make_user(company, role))
        token = csrf_token(testapp)
        with unchanged():
            testapp.get(PAGE, status=403)
            body = {"phone_region": "DE", "currency": "EUR", "time_zone": "Europe/Berlin", "csrf_token": token}
            testapp.post(PAGE, body, status=403)
        assert "Region and currency" not in testapp.get("/dashboard").text


def test_a_post_without_the_csrf_token_changes_nothing(testapp, login_as, owner, unchanged):
    login_as(owner)
    with unchanged():
        testapp.post(PAGE, {"phone_region": "DE", "currency": "EUR", "time_zone": "Europe/Berlin"}, status=400)


@BAD_LOCALE_VALUES
def test_unknown_values_are_refused_by_field(field, value, message, testapp, login_as, owner, company, db, unchanged):
    login_as(owner)
    body = {"phone_region": "DE", "currency": "EUR", "time_zone": "Europe/Berlin", field: value}
    with unchanged():
        page = testapp.post(PAGE, {**body, "csrf_token": csrf_token(testapp)}, status=400)
    error = page.html.select_one(f"#e-{field}")
    assert error is not None and message in error.text
    assert "Nothing was saved" in page.text
    # The form keeps what was chosen in the other fields.
    kept = "phone_region" if field == "currency" else "currency"
    assert page.forms["region-form"][kept].value == body[kept]
    assert _saved(db, company.id) == (None, "USD", None)


def test_one_company_s_settings_leave_another_alone(testapp, login_as, owner, company, make_company, make_user, db):
    other = make_company(name="Other Co", currency="GBP", phone_region="GB", time_zone="Europe/London")
    login_as(owner)
    form = testapp.get(PAGE).forms["region-form"]
    form["phone_region"], form["currency"], form["time_zone"] = "DE", "EUR", "Europe/Berlin"
    form.submit(status=303)
    assert _saved(db, other.id) == ("GB", "GBP", "Europe/London")
    assert _updates(db, other.id) == []
    login_as(make_user(other, "OWNER"))
    theirs = testapp.get(PAGE).forms["region-form"]
    assert (theirs["phone_region"].value, theirs["currency"].value, theirs["time_zone"].value) == (
        "GB",
        "GBP",
        "Europe/London",
    )


def test_the_old_time_zone_address_leads_here(testapp, login_as, owner):
    login_as(owner)
    assert testapp.get("/settings/time-zone", status=301).location.endswith(PAGE)
