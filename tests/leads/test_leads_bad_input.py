"""Each refusal of leads/normalize.py says what is wrong (the message the forms, the API and
the CSV import show by the field), and a refused lead form stores nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orbitflow.leads import normalize as norm
from support import csrf_token


@pytest.mark.parametrize(
    ("clean", "value", "message"),
    [
        (lambda v: norm.clean_text(v, 200, required=True, label="Name"), "  ", "Name is required."),
        (lambda v: norm.clean_text(v, 200), "x" * 201, "Use at most 200 characters."),
        (norm.normalise_email, "not-an-address", "Enter an e-mail address like name@example.com (this one has no @)."),
        (norm.normalise_email, "a" * 250 + "@example.com", "Use at most 254 characters for the e-mail address."),
        (norm.normalise_email, "ada@exa_mple.com", "Enter an e-mail address like name@example.com."),
        (
            lambda v: norm.normalise_phone(v, "GB"),
            "+12 not a number",
            "Enter a valid phone number, e.g. +44 20 7946 0958.",
        ),
        (lambda v: norm.normalise_phone(v, "US"), "12", "is not a valid phone number for US"),
        (norm.normalise_value, "ten", "Enter an amount such as 1500 or 1500.50."),
        (norm.normalise_value, [1], "Enter an amount such as 1500 or 1500.50."),
        (norm.normalise_value, "1e100", "The value is too large."),
        (norm.normalise_value, "1000000000000", "The value is too large."),
        (norm.normalise_value, "-5", "The value cannot be negative."),
        (norm.normalise_value, True, "Enter an amount such as 1500 or 1500.50."),
        (norm.normalise_value, "NaN", "Enter an amount such as 1500 or 1500.50."),
        (norm.normalise_value, float("inf"), "Enter an amount such as 1500 or 1500.50."),
        (norm.normalise_value, "999999999999.995", "The value is too large."),
        (norm.normalise_tags, 5, "Tags must be a list of words or a comma-separated text."),
        (norm.normalise_tags, [1], "Each tag must be text."),
        (norm.normalise_tags, ["t" * 51], "A tag may have at most 50 characters."),
        (norm.normalise_tags, [f"t{n}" for n in range(21)], "Use at most 20 tags."),
        (norm.normalise_bool, "maybe", "Use yes or no."),
        (norm.normalise_utm, "facebook", "utm must be an object"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(clean, value, message):
    with pytest.raises(norm.FieldError) as refused:
        clean(value)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        (" , ", None),
        (12.5, Decimal("12.50")),
        (Decimal("3.456"), Decimal("3.46")),
        ("1,234.5", Decimal("1234.50")),
    ],
)
def test_amounts_that_are_accepted(raw, kept):
    assert norm.normalise_value(raw) == kept


def test_blank_tags_words_and_unknown_utm_fields_are_read_as_meant():
    assert norm.normalise_tags("vip, ,  Big  Deal ,vip") == ["vip", "big deal"]
    assert [norm.normalise_bool(word) for word in (None, "Yes", "x", "off", "", False)] == [
        False,
        True,
        True,
        False,
        False,
        False,
    ]
    assert norm.normalise_utm({"utm_Source": " ads ", "gclid": "x", "campaign": ""}) == {
        "utm_source": "ads",
        "utm_campaign": None,
    }
    assert norm.format_phone("020 7946 0958") == "020 7946 0958"  # no country code: shown as stored
    assert norm.format_phone("+442079460958") == "+44 20 7946 0958"


@pytest.fixture
def owner_client(testapp, login_as, owner):
    login_as(owner)
    return testapp


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Name is required."),
        ("email", "ada@exa_mple.com", "Enter an e-mail address like name@example.com."),
        ("phone", "+12 not a number", "Enter a valid phone number"),
        ("value", "NaN", "Enter an amount such as 1500 or 1500.50."),
        ("value", "-1", "The value cannot be negative."),
        ("value", "1e100", "The value is too large."),
        ("tags", "t" * 51, "A tag may have at most 50 characters."),
        ("tags", ",".join(f"t{n}" for n in range(21)), "Use at most 20 tags."),
        ("utm_source", "s" * 201, "Use at most 200 characters."),
    ],
)
def test_a_bad_lead_form_is_refused_with_the_message_and_stores_nothing(
    owner_client, stages, owner, unchanged, field, value, message
):
    form = {"csrf_token": csrf_token(owner_client), "name": "Ada", "stage_id": stages[0].id, "owner_id": owner.id}
    with unchanged():
        page = owner_client.post("/leads/new", {**form, field: value}, status=400)
    assert message in page.text
