"""A super admin sets a company's country, currency and time zone on the company form and
through /api/v1/admin/companies; owners read them in /api/v1/me. Unknown values are
refused by field and change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow.tenants.models import Company
from support import csrf_token

LOCALE = {"phone_region": "DE", "currency": "EUR", "time_zone": "Europe/Berlin"}


def _locale(db, company_id: int) -> dict[str, str | None]:
    db.expire_all()
    company = db.get(Company, company_id)
    return {key: getattr(company, key) for key in LOCALE}


def test_the_company_form_sets_the_locale(admin_client, acme, db):
    form = admin_client.get(f"/admin/companies/{acme.id}/edit").forms["company-form"]
    assert (form["phone_region"].value, form["currency"].value, form["time_zone"].value) == ("", "USD", "")
    for key, value in LOCALE.items():
        form[key] = value
    page = form.submit(status=303).follow()
    assert "Germany · EUR · Europe/Berlin" in page.text
    assert _locale(db, acme.id) == LOCALE
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "company.update")).one()
    assert entry.company_id == acme.id
    assert entry.changes["currency"] == {"from": "USD", "to": "EUR"}
    assert entry.changes["phone_region"] == {"from": None, "to": "DE"}


def test_a_new_company_takes_its_locale_from_the_form(admin_client, db):
    form = admin_client.get("/admin/companies/new").forms["company-form"]
    assert form["currency"].value == "USD" and form["phone_region"].value == ""
    form["name"], form["subscription_id"] = "Berliner", "berliner"
    for key, value in LOCALE.items():
        form[key] = value
    form.submit(status=303)
    company = db.scalars(select(Company).where(Company.subscription_id == "berliner")).one()
    assert (company.phone_region, company.currency, company.time_zone) == ("DE", "EUR", "Europe/Berlin")


def test_the_company_form_refuses_unknown_values(admin_client, acme, db, unchanged):
    body = {
        "name": acme.name,
        "subscription_id": acme.subscription_id,
        "plan": acme.plan,
        "phone_region": "XX",
        "currency": "XYZ",
        "time_zone": "Mars/Olympus",
        "csrf_token": csrf_token(admin_client),
    }
    with unchanged():
        page = admin_client.post(f"/admin/companies/{acme.id}/edit", body, status=400)
    assert "Choose a country from the list" in page.text
    assert "Choose a currency from the list" in page.text
    assert "Choose a time zone from the list" in page.text


def test_the_api_reads_and_writes_the_locale(admin_client, acme, acme_owner, login_as, db, testapp):
    headers = {"X-CSRF-Token": csrf_token(admin_client)}
    got = admin_client.get(f"/api/v1/admin/companies/{acme.id}").json
    assert (got["phone_region"], got["currency"], got["time_zone"]) == (None, "USD", None)
    patched = admin_client.patch_json(f"/api/v1/admin/companies/{acme.id}", LOCALE, headers=headers).json
    assert {key: patched[key] for key in LOCALE} == LOCALE
    assert _locale(db, acme.id) == LOCALE
    created = admin_client.post_json(
        "/api/v1/admin/companies",
        {"name": "Tokyo Co", "subscription_id": "tokyo", "currency": "JPY", "time_zone": "Asia/Tokyo"},
        headers=headers,
        status=201,
    ).json
    assert (created["phone_region"], created["currency"], created["time_zone"]) == (None, "JPY", "Asia/Tokyo")
    login_as(acme_owner)
    me = testapp.get("/api/v1/me").json["company"]
    assert {key: me[key] for key in LOCALE} == LOCALE


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "eur"}, "currency"),
        ({"phone_region": "XX"}, "phone_region"),
        ({"phone_region": 49}, "phone_region"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"currency": None}, "currency"),
    ],
    ids=[
        "unknown-currency",
        "lower-case-currency",
        "unknown-country",
        "number-country",
        "unknown-zone",
        "null-currency",
    ],
)
def test_the_api_refuses_unknown_values(body, field, admin_client, acme, db, unchanged):
    with unchanged():
        response = admin_client.patch_json(
            f"/api/v1/admin/companies/{acme.id}", body, headers={"X-CSRF-Token": csrf_token(admin_client)}, status=422
        )
    assert field in response.json["error"]["fields"]
