"""Each refusal of leads/normalize.py says what is wrong (the message the forms, the API and
the CSV import show by the field)."""

from __future__ import annotations

import pytest

from orbitflow.leads import normalize as norm


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
