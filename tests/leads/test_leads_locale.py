"""A company in Germany: local phone numbers are read as German ones on the lead form,
through the API and in a CSV import; values show in euros on the board, the list, the
lead page and the dashboard; dates in Berlin time. A company beside it keeps its own."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import select

from orbitflow.leads.models import Lead, Stage
from support import csrf_token

LOCAL = "030 1234567"
E164 = "+49301234567"
# 23:30 UTC on 15 January: already 00:30 on the 16th in Berlin (CET).
LATE = datetime(2026, 1, 15, 23, 30)


@pytest.fixture
def german(db, company):
    company.phone_region, company.currency, company.time_zone = "DE", "EUR", "Europe/Berlin"
    db.merge(company)
    db.commit()
    return company


@pytest.fixture
def signed_in(testapp, login_as, owner, german):
    login_as(owner)
    return testapp


def _lead_form(page):
    return next(form for form in page.forms.values() if "phone" in form.fields)


def _lead(db, name: str) -> Lead:
    db.expire_all()
    return db.scalars(select(Lead).where(Lead.name == name)).one()


def test_the_lead_form_reads_a_local_number_in_the_company_country(signed_in, db, stages):
    page = signed_in.get("/leads/new")
    assert "a number in Germany" in page.text
    assert 'name="phone_region"' not in page.text  # no per-lead region to look for
    form = _lead_form(page)
    form["name"], form["phone"] = "Greta Berlin", LOCAL
    form.submit(status=303)
    lead = _lead(db, "Greta Berlin")
    assert lead.phone == E164
    edit = _lead_form(signed_in.get(f"/leads/{lead.id}"))
    edit["phone"] = "0171 2345678"
    edit.submit(status=303)
    assert _lead(db, "Greta Berlin").phone == "+491712345678"


def test_the_api_reads_a_local_number_in_the_company_country(signed_in, api, db):
    created = api().post("/api/v1/leads", {"name": "Api Anton", "phone": LOCAL}, status=201).json
    assert created["phone"] == E164
    # A number given with its country code stays what it says.
    other = api().post("/api/v1/leads", {"name": "Api Ana", "phone": "+1 415 555 0123"}, status=201).json
    assert other["phone"] == "+14155550123"
    patched = api().patch(f"/api/v1/leads/{created['id']}", {"phone": "0171 2345678", "version": created["version"]})
    assert patched.json["phone"] == "+491712345678"


def test_a_csv_import_reads_local_numbers_in_the_company_country(signed_in, db, stages):
    upload = signed_in.post(
        "/leads/import",
        {"csrf_token": csrf_token(signed_in)},
        upload_files=[("file", "leads.csv", f"Name,Phone\nImke Import,{LOCAL}\n".encode())],
        status=303,
    )
    preview = signed_in.get(upload.location)
    assert re.search(r'name="phone_region" value="DE"', preview.text)
    fields = {"csrf_token": csrf_token(signed_in), "go": "import", "duplicates": "skip", "map_name": "0"}
    fields.update({"map_phone": "1", "stage_id": str(stages[0].id), "phone_region": "DE"})
    report = signed_in.post(upload.location, fields, status=303).follow()
    assert "Imported 1 new lead(s)" in report.text
    assert _lead(db, "Imke Import").phone == E164


def test_another_company_reads_numbers_in_its_own_country(testapp, login_as, german, make_company, make_user, api):
    us = make_company(name="Boston Co")
    login_as(make_user(us, "OWNER"))
    refused = api().post("/api/v1/leads", {"name": "Bo", "phone": LOCAL}, status=422).json
    assert "not a valid phone number for US" in refused["error"]["fields"]["phone"]
    assert api().post("/api/v1/leads", {"name": "Bo", "phone": "(415) 555-0123"}, status=201).json["phone"] == (
        "+14155550123"
    )


def test_values_are_shown_in_the_company_currency(signed_in, make_lead, stages, german):
    lead = make_lead("Euro Emma", value=1250.5)
    make_lead("Euro Egon", value=1000)
    board = signed_in.get("/pipeline").text
    assert "1.250,50\xa0€" in board and "2.250,50\xa0€" in board  # the card and the column total
    assert 'data-currency="EUR" data-locale="en-DE"' in board
    assert "USD" not in board
    listing = signed_in.get("/leads").text
    assert "1.250,50\xa0€" in listing and "1.000,00\xa0€" in listing
    page = signed_in.get(f"/leads/{lead.id}").text
    assert "1.250,50\xa0€" in page and "Value (EUR)" in page
    dashboard = signed_in.get("/dashboard").text
    assert "2.250,50\xa0€" in dashboard
    export = signed_in.get("/leads/export.csv").body.decode("utf-8-sig")
    assert ",EUR," in export


def test_dates_are_shown_in_the_company_zone_across_midnight(
    signed_in, make_lead, db, login_as, make_company, make_user
):
    lead = make_lead("Late Lena", created_at=LATE, updated_at=LATE)
    listing = signed_in.get("/leads").text
    assert "2026-01-16" in listing and "2026-01-15" not in listing
    page = signed_in.get(f"/leads/{lead.id}").text
    assert "Created 2026-01-16 00:30 CET" in page and "23:30" not in page
    # The same moment, for a company in New York: still the 15th, and its own zone's name.
    other = make_company(name="Gotham Co", time_zone="America/New_York")
    stage = db.scalars(select(Stage).where(Stage.company_id == other.id).order_by(Stage.position)).first()
    theirs = Lead(company_id=other.id, name="Nia York", stage_id=stage.id, position=0, created_at=LATE, updated_at=LATE)
    db.add(theirs)
    db.commit()
    login_as(make_user(other, "OWNER"))
    assert "Created 2026-01-15 18:30 EST" in signed_in.get(f"/leads/{theirs.id}").text
    signed_in.get(f"/leads/{lead.id}", status=404)
