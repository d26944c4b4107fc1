"""How a company's locale writes amounts and names time zones."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from orbitflow.tenants.locale import CompanyLocale, check_locale, clean_locale, currencies, regions
from orbitflow.tenants.zones import zone
from orbitflow.web.dates import to_display, zone_label


@pytest.mark.parametrize(
    ("region", "currency", "shown"),
    [
        ("US", "USD", "$1,250.50"),
        ("US", "EUR", "€1,250.50"),
        ("DE", "EUR", "1.250,50\xa0€"),
        ("GB", "GBP", "£1,250.50"),
        ("CA", "CAD", "$1,250.50"),
        ("US", "JPY", "¥1,251"),
    ],
    ids=["us-usd", "us-eur", "de-eur", "gb-gbp", "ca-cad", "us-jpy"],
)
def test_amounts_follow_the_currency_and_the_country_layout(region, currency, shown):
    assert CompanyLocale(region, currency, "UTC").money(Decimal("1250.50")) == shown


def test_no_amount_is_a_dash():
    assert CompanyLocale("US", "USD", "UTC").money(None) == "—"


def test_zones_are_named_by_their_abbreviation_or_offset():
    winter = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    assert zone_label(to_display(winter, zone("Europe/Berlin"))) == "CET"
    assert zone_label(to_display(winter, zone("America/New_York"))) == "EST"
    assert zone_label(to_display(winter, zone("Asia/Dubai"))) == "UTC+04"


def test_the_lists_hold_what_people_choose():
    assert regions()["DE"] == "Germany" and "US" in regions()
    assert {"EUR", "USD", "GBP", "JPY", "CHF"} <= set(currencies())
    assert "DEM" not in currencies()  # no longer anyone's currency


def test_typed_values_are_cleaned_then_checked():
    assert clean_locale({"phone_region": " de ", "currency": "eur", "time_zone": " Europe/Berlin "}) == {
        "phone_region": "DE",
        "currency": "EUR",
        "time_zone": "Europe/Berlin",
    }
    assert clean_locale({"phone_region": "", "time_zone": ""}) == {"phone_region": None, "time_zone": None}
    assert check_locale({"phone_region": None, "currency": "EUR", "time_zone": None}) == {}
    assert set(check_locale({"phone_region": "ZZ", "currency": "ABC", "time_zone": "Nowhere/Land"})) == {
        "phone_region",
        "currency",
        "time_zone",
    }
