"""Dates on CRM pages are shown in the installation's TZ, or the company's own time zone."""

from __future__ import annotations

from datetime import datetime

import pytest
import webtest

from orbitflow.app import make_app
from support import sign_in

# 12:30 UTC on a winter day: 13:30 in Berlin (CET), 07:30 in New York (EST).
CREATED = datetime(2026, 1, 15, 12, 30)
# 23:30 UTC: already the next day in Berlin.
LATE = datetime(2026, 1, 15, 23, 30)


@pytest.fixture(scope="module")
def berlin_app(backend):
    return make_app(backend.ini(), environ={"TZ": "Europe/Berlin"}, engine=backend.engine)


def _browser(app, user) -> webtest.TestApp:
    return sign_in(webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.3"}), user)


def test_the_lead_page_shows_times_in_tz(berlin_app, wsgi_app, make_lead, owner):
    lead = make_lead("Zoe Zeit", created_at=CREATED, updated_at=CREATED)
    page = _browser(berlin_app, owner).get(f"/leads/{lead.id}")
    assert "Created 2026-01-15 13:30 CET" in page.text
    assert "12:30 UTC" not in page.text
    # Without TZ the same lead reads in UTC.
    assert "Created 2026-01-15 12:30 UTC" in _browser(wsgi_app, owner).get(f"/leads/{lead.id}").text


def test_a_date_near_midnight_is_the_day_of_tz(berlin_app, wsgi_app, make_lead, owner):
    make_lead("Late Larry", created_at=LATE, updated_at=LATE)
    listing = _browser(berlin_app, owner).get("/leads").text
    assert "2026-01-16" in listing and "2026-01-15" not in listing
    assert "2026-01-15" in _browser(wsgi_app, owner).get("/leads").text


def test_a_company_time_zone_wins_over_tz(berlin_app, db, company, make_lead, owner):
    company.time_zone = "America/New_York"
    db.merge(company)
    db.commit()
    lead = make_lead("Nia York", created_at=CREATED, updated_at=CREATED)
    assert "Created 2026-01-15 07:30 EST" in _browser(berlin_app, owner).get(f"/leads/{lead.id}").text
