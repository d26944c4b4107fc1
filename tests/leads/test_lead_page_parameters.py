"""The lead list and the board are opened from links: a parameter that is no filter there
(a click id a mail client or an ad tool appended, an old bookmark's) is ignored, neither
filtering nor carried into the page's links and forms. A filter with a bad value is a 400
that names it, and the JSON API stays strict about both."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from orbitflow.leads.models import Stage

TRACKING = {"fbclid": "IwAR3x", "gclid": "Cj0KCQ", "ttclid": "E.C.P", "mc_cid": "5f1", "_ga": "2.1", "foo": "bar"}


@pytest.fixture
def signed_in(testapp, login_as, owner):
    login_as(owner)
    return testapp


@pytest.fixture
def rival_stage(make_company, db) -> Stage:
    company = make_company(name="Rival Co")
    return db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)).first()


def listed(page) -> list[str]:
    return [a.get_text(strip=True) for a in page.html.select("table.leads-table tbody td a") if a.get_text(strip=True)]


def carried(page) -> list[str]:
    """Every link and form field of the page that repeats a tracking parameter."""
    hrefs = [a["href"] for a in page.html.select("a[href]")]
    urls = [*hrefs, *(tag["data-more-url"] for tag in page.html.select("[data-more-url]"))]
    fields = [field.get("name", "") for field in page.html.select("input, select")]
    return [text for text in [*urls, *fields] if any(key in text for key in TRACKING)]


def exported(response) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(response.body.decode("utf-8-sig"))))
    return sorted(row["name"] for row in rows)


def test_tracking_and_unknown_parameters_are_ignored_on_the_pages(signed_in, make_lead, stages, rival_stage):
    for number in range(30):
        make_lead(f"News {number:02d}", utm_source="newsletter", stage=stages[0 if number < 22 else 1])
    make_lead("Paid", utm_source="ads")
    make_lead("Rival News", utm_source="newsletter", stage=rival_stage)
    query = {"utm_source": "newsletter", "sort": "name", "per_page": "25"}

    plain = signed_in.get("/leads", query)
    tagged = signed_in.get("/leads", {**query, **TRACKING}, status=200)
    # The same leads (the real utm_source filter still applies, the other company's stay out).
    assert listed(tagged) == listed(plain) == [f"News {number:02d}" for number in range(25)]
    assert carried(tagged) == []
    # Its sort, paging and per-page links keep the filter and nothing else.
    following = tagged.html.select_one("a[rel=next]")["href"]
    assert "utm_source=newsletter" in following and "sort=name" in following
    assert listed(signed_in.get(following)) == [f"News {number:02d}" for number in range(25, 30)]
    assert tagged.html.select("th a[href*='sort=']")

    board = signed_in.get("/pipeline", {"utm_source": "newsletter", **TRACKING}, status=200)
    assert board.html.select(".kcard") and carried(board) == []
    assert "Paid" not in board.text and "Rival News" not in board.text
    more = board.html.select_one(f"#stage-{stages[0].id} [data-more-url]")["data-more-url"]
    assert "utm_source=newsletter" in more
    assert "Paid" not in signed_in.get(more + "&fbclid=x&foo=bar", status=200).text

    export = signed_in.get("/leads/export.csv", {"utm_source": "newsletter", **TRACKING}, status=200)
    assert exported(export) == [f"News {number:02d}" for number in range(30)]


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("stage_id", "abc", "Must be a whole number."),
        ("owner", "someone", "Choose a user, me or none."),
        ("source", "fax", "Choose one of manual, quiz, import, api."),
        ("created_from", "yesterday", "Use an ISO 8601 time"),
        ("quiz_id", "x", "Must be a whole number."),
    ],
)
def test_a_filter_with_a_bad_value_is_a_400_naming_it(signed_in, make_lead, unchanged, key, value, message):
    make_lead("Ada")
    with unchanged():
        for url in ("/leads", "/pipeline", "/leads/export.csv"):
            page = signed_in.get(url, {key: value, **TRACKING}, status=400)
            assert f"{key}: {message}" in page.text
            assert "Ada" not in page.text and "fbclid" not in page.text


def test_the_api_still_refuses_a_parameter_that_is_no_filter(signed_in, make_lead):
    make_lead("Ada")
    for key, value in TRACKING.items():
        error = signed_in.get("/api/v1/leads", {key: value}, status=400).json["error"]
        assert list(error["fields"]) == [key]
    # The pages' owner filter is owner, the API's owner_id: each is unknown to the other.
    assert list(signed_in.get("/api/v1/leads", {"owner": "me"}, status=400).json["error"]["fields"]) == ["owner"]
    assert listed(signed_in.get("/leads", {"owner_id": "me"}, status=200)) == ["Ada"]
