"""The one parser of whole numbers from paths, query strings and form fields."""

from __future__ import annotations

import pytest

from orbitflow.web.inputs import (
    MAX_ID,
    MAX_PAGE,
    NO_ROW,
    NumberError,
    bounded_int,
    parse_id,
    parse_page,
    whole_number,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("42", 42),
        (" 42 ", 42),
        ("-7", -7),
        ("007", 7),
        (42, 42),
        ("²", None),  # str.isdigit() says yes; int() refuses it
        ("١٢", None),  # int() reads other scripts' digits as 12
        ("1_000", None),  # int() reads 1000
        ("+5", None),
        ("1.5", None),
        ("1e3", None),
        ("", None),
        ("0x10", None),
        (True, None),
        (7.9, None),
        (None, None),
        (["1"], None),
    ],
)
def test_whole_numbers_are_ascii_digits_only(raw, expected):
    assert whole_number(raw) == expected


def test_a_huge_number_is_read_without_converting_all_its_digits():
    # int() refuses more than 4300 digits with an error; the parser answers "beyond every bound".
    assert whole_number("9" * 100_000) > MAX_ID
    assert whole_number("-" + "9" * 100_000) < -MAX_ID
    assert whole_number("0" * 5000 + "12") == 12


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), NO_ROW),
        ("1" + "0" * 25, NO_ROW),
        ("0", NO_ROW),
        ("-3", NO_ROW),
        ("²", None),
        ("abc", None),
        ("", None),
        (None, None),
    ],
)
def test_ids_beyond_the_column_range_name_no_row(raw, expected):
    assert parse_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 1), ("", 1), ("3", 3), ("0", 1), ("-4", 1), ("x", 1), ("²", 1), ("9" * 40, MAX_PAGE)],
)
def test_html_page_numbers_clamp(raw, expected):
    assert parse_page(raw) == expected


def test_bounded_int_names_the_bounds():
    assert bounded_int("5", minimum=1, maximum=9) == 5
    with pytest.raises(NumberError, match=r"^Use a number from 1 to 9\.$"):
        bounded_int("10", minimum=1, maximum=9)
    with pytest.raises(NumberError, match=r"^Enter a whole number from 1 to 9\.$"):
        bounded_int("²", minimum=1, maximum=9)
