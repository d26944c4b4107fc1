"""Locale values the settings page and the API refuse alike, with the message of each."""

from __future__ import annotations

import pytest

BAD_LOCALE_VALUES = pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone_region", "XX", "Choose a country from the list"),
        ("phone_region", "Germany", "Choose a country from the list"),
        ("currency", "XYZ", "Choose a currency from the list"),
        ("currency", "", "Choose a currency from the list"),
        ("time_zone", "Mars/Olympus", "Choose a time zone from the list"),
        ("time_zone", "Europe/" + "x" * 300, "Choose a time zone from the list"),
    ],
    ids=["unknown-country", "country-name", "unknown-currency", "no-currency", "unknown-zone", "long-zone"],
)
