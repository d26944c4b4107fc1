"""The quiz theme stylesheet keeps text readable in any brand colour: text on the brand
(the Next and Submit buttons) is dark or white, whichever contrasts more, and the brand
used as text on white (question numbers) is darkened to WCAG AA's 4.5:1."""

from __future__ import annotations

import re

import pytest

from orbitflow_plugins.quiz.public import WHITE, contrast_ratio


def rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))


def theme(testapp, color: str) -> dict[str, str]:
    css = testapp.get(f"/q-theme/{color}.css").text
    return dict(re.findall(r"--([a-z-]+): (#[0-9a-f]+);", css))


@pytest.mark.parametrize(
    ("brand", "on_brand"),
    [("0ea5e9", "#0f172a"), ("facc15", "#0f172a"), ("4f46e5", "#ffffff"), ("000000", "#ffffff")],
    ids=["sky", "yellow", "indigo", "black"],
)
def test_text_on_the_brand_colour_is_the_more_readable_of_dark_and_white(testapp, backend, brand, on_brand):
    colours = theme(testapp, brand)
    assert colours["quiz-brand"] == f"#{brand}"
    assert colours["quiz-on-brand"] == on_brand
    assert contrast_ratio(rgb(brand), rgb(on_brand)) >= 4.5


@pytest.mark.parametrize("brand", ["0ea5e9", "facc15", "ffffff", "4f46e5"], ids=["sky", "yellow", "white", "indigo"])
def test_the_brand_as_text_on_white_meets_aa(testapp, backend, brand):
    text = theme(testapp, brand)["quiz-brand-text"]
    assert contrast_ratio(rgb(text), WHITE) >= 4.5
    if contrast_ratio(rgb(brand), WHITE) >= 4.5:
        assert text == f"#{brand}", "a brand colour that already reads well is kept as it is"
