"""The owners table (leads, won, won value, median time to first activity) and the UTM
medium and content breakdowns (``detail=utm``) on a known fixture, through the API and the
page: exact numbers, links to exactly their leads, tenancy, permissions and bad input."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from test_analytics_api import today, utc
from test_analytics_pages import lead_names

from orbitflow.models.meta import utcnow
from support import csrf_token


def since_november() -> dict[str, str]:
    return {"from": "2026-11-01", "to": today()}


OWNERS = [
    {"name": "Olga Owner", "leads": 3, "won": 1, "won_value": 300.0, "median_seconds_to_first_activity": 2700},
    {"name": "Anna Agent", "leads": 1, "won": 0, "won_value": 0.0, "median_seconds_to_first_activity": 7200},
    {"name": "Unassigned", "leads": 1, "won": 0, "won_value": 0.0, "median_seconds_to_first_activity": 172800},
]


def test_the_summary_counts_by_owner_with_the_median_time_to_first_activity(testapp, login_as, owner, agent, team):
    login_as(owner)
    data = testapp.get("/api/v1/analytics/summary", since_november()).json
    assert [{k: row[k] for k in OWNERS[0]} for row in data["by_owner"]] == OWNERS
    assert [row["owner_id"] for row in data["by_owner"]] == [owner.id, agent.id, None]
    # Without detail=utm the answer has its contract fields and no UTM detail.
    assert "by_utm_medium" not in data and "by_utm_content" not in data
    assert {"leads", "won", "won_value", "conversion_rate", "by_source", "by_quiz", "by_campaign"} <= set(data)


def test_detail_utm_adds_the_medium_and_content_breakdowns(testapp, login_as, owner, team):
    login_as(owner)
    plain = testapp.get("/api/v1/analytics/summary", since_november()).json
    data = testapp.get("/api/v1/analytics/summary", {**since_november(), "detail": "utm"}).json
    assert data["by_utm_medium"] == [
        {"utm_medium": "cpc", "leads": 2, "won": 1, "won_value": 300.0},
        {"utm_medium": None, "leads": 1, "won": 0, "won_value": 0.0},
        {"utm_medium": "email", "leads": 1, "won": 0, "won_value": 0.0},
        {"utm_medium": "social", "leads": 1, "won": 0, "won_value": 0.0},
    ]
    assert data["by_utm_content"] == [
        {"utm_content": None, "leads": 3, "won": 0, "won_value": 0.0},
        {"utm_content": "video", "leads": 1, "won": 1, "won_value": 300.0},
        {"utm_content": "carousel", "leads": 1, "won": 0, "won_value": 0.0},
    ]
    # Only added: every other field is the same.
    assert {k: v for k, v in data.items() if not k.startswith("by_utm_")} == plain


def test_the_page_shows_the_owners_and_the_utm_detail(testapp, login_as, owner, team):
    login_as(owner)
    page = testapp.get("/analytics", since_november())
    assert page.html.select_one("#table-by_utm_medium") is None
    toggle = page.html.select_one('a[data-detail="utm"]')["href"]
    assert "detail=utm" in toggle
    page = testapp.get(toggle)
    cells = [[td.text for td in tr.select("td")] for tr in page.html.select("#table-by_owner tbody tr")]
    assert cells == [
        ["Olga Owner", "3", "1", "$300.00", "45 min"],
        ["Anna Agent", "1", "0", "$0.00", "2.0 h"],
        ["Unassigned", "1", "0", "$0.00", "2.0 days"],
    ]
    mediums = [[td.text for td in tr.select("td")] for tr in page.html.select("#table-by_utm_medium tbody tr")]
    assert mediums == [
        ["cpc", "2", "1", "$300.00"],
        ["(none)", "1", "0", "$0.00"],
        ["email", "1", "0", "$0.00"],
        ["social", "1", "0", "$0.00"],
    ]
    contents = [[td.text for td in tr.select("td")] for tr in page.html.select("#table-by_utm_content tbody tr")]
    assert [row[0] for row in contents] == ["(none)", "video", "carousel"]
    csv = testapp.get(page.html.select_one("#table-by_utm_content").find_parent("figure").select_one("a.csv")["href"])
    assert csv.text.splitlines()[1:] == ["(none),3,0", "video,1,1", "carousel,1,0"]


def row_links(page, table: str, label: str) -> list[str]:
    row = next(tr for tr in page.html.select(f"#{table} tbody tr") if tr.select("td")[0].text == label)
    return [a["href"] for a in row.select("td a")]


def test_every_new_number_links_to_exactly_its_leads(testapp, login_as, owner, team):
    login_as(owner)
    page = testapp.get("/analytics", {**since_november(), "detail": "utm"})

    def names(href: str) -> set[str]:
        return lead_names(testapp.get(href))

    leads, won, won_value = row_links(page, "table-by_utm_medium", "cpc")
    assert names(leads) == {"Video click", "Carousel click"}
    assert names(won) == names(won_value) == {"Video click"}
    assert names(row_links(page, "table-by_utm_medium", "(none)")[0]) == {"Waiting"}
    assert names(row_links(page, "table-by_utm_content", "(none)")[0]) == {"Only assigned", "Agent edited", "Waiting"}
    assert names(row_links(page, "table-by_utm_content", "video")[1]) == {"Video click"}
    leads, won, won_value, activity = row_links(page, "table-by_owner", "Olga Owner")
    assert names(leads) == names(activity) == {"Video click", "Carousel click", "Only assigned"}
    assert names(won) == {"Video click"}
    assert names(row_links(page, "table-by_owner", "Unassigned")[0]) == {"Waiting"}
    assert names(row_links(page, "table-by_owner", "Anna Agent")[0]) == {"Agent edited"}
    # The key numbers: won, won value, conversion and median days to win open the won leads.
    for kpi in ("won", "won_value", "conversion_rate", "median_days"):
        assert names(page.html.select_one(f'[data-kpi="{kpi}"]')["href"]) == {"Video click"}, kpi
    # The previous period's new leads open theirs.
    previous = page.html.select_one('[data-kpi="leads"]').find_parent("div").select_one(".delta a")
    assert (previous.text, names(previous["href"])) == ("1", {"October"})
    # Each period of the series opens its own leads.
    periods = {tr.select("td")[0].text: tr.select("td a") for tr in page.html.select("#table-leads_over_time tbody tr")}
    assert names(periods["2026-11-13"][0]["href"]) == {"Agent edited"}
    assert names(periods[today()][1]["href"]) == {"Video click"}


def test_the_lead_list_filters_on_utm_medium_content_and_the_first_win(testapp, login_as, owner, team):
    login_as(owner)
    api = testapp.get("/api/v1/leads", {"utm_medium": "cpc", "utm_content": "carousel"}).json
    assert [lead["name"] for lead in api["items"]] == ["Carousel click"]
    start = datetime.combine(datetime.fromisoformat(today()), datetime.min.time()) - timedelta(hours=2)
    won = testapp.get("/api/v1/leads", {"won_from": start.isoformat() + "Z"}).json
    assert [lead["name"] for lead in won["items"]] == ["Video click"]
    assert testapp.get("/api/v1/leads", {"won_to": "2026-11-01T00:00:00Z"}).json["items"] == []
    error = testapp.get("/api/v1/leads", {"won_from": "last week"}, status=400).json["error"]
    assert "won_from" in error["fields"] and "ISO 8601" in error["fields"]["won_from"]
    page = testapp.get("/leads", {"utm_medium": "none"})
    assert "utm medium none" in page.text
    assert lead_names(page) == {"Waiting", "October"}


def test_a_note_added_through_the_api_is_a_first_activity(kit, company, testapp, login_as, owner):
    lead = kit.lead(company, utcnow() - timedelta(hours=1), name="Fresh", owner_id=owner.id)
    kit.flush()
    login_as(owner)
    yesterday = (datetime.fromisoformat(today()) - timedelta(days=1)).date().isoformat()
    period = {"from": yesterday, "to": today()}
    before = testapp.get("/api/v1/analytics/summary", period).json["by_owner"]
    assert [row["median_seconds_to_first_activity"] for row in before] == [None]
    testapp.post_json(
        f"/api/v1/leads/{lead.id}/notes", {"body": "Called back"}, headers={"X-CSRF-Token": csrf_token(testapp)}
    )
    kit.flush()
    after = testapp.get("/api/v1/analytics/summary", period).json["by_owner"]
    assert 3590 <= after[0]["median_seconds_to_first_activity"] <= 3900


def test_another_company_sees_only_its_own_owners_and_mediums(kit, make_company, make_user, testapp, login_as, team):
    other = make_company(name="Other", time_zone="Europe/Berlin")
    theirs = make_user(other, "OWNER", name="Theo Theirs")
    lead = kit.lead(other, utc("2026-11-20 09:00"), name="Theirs", owner_id=theirs.id, utm={"medium": "print"})
    kit.note(lead, theirs, utc("2026-11-20 09:10"))
    kit.flush()
    login_as(theirs)
    data = testapp.get("/api/v1/analytics/summary", {**since_november(), "detail": "utm"}).json
    assert [(r["name"], r["leads"], r["median_seconds_to_first_activity"]) for r in data["by_owner"]] == [
        ("Theo Theirs", 1, 600)
    ]
    assert [r["utm_medium"] for r in data["by_utm_medium"]] == ["print"]
    page = testapp.get("/analytics", {**since_november(), "detail": "utm"})
    assert "Olga Owner" not in page.text
    assert [tr.select_one("td").text for tr in page.html.select("#table-by_utm_medium tbody tr")] == ["print"]
    # Their lead list's won filter finds none of ours.
    assert testapp.get("/api/v1/leads", {"won_from": "2026-11-01T00:00:00Z"}).json["items"] == []


@pytest.mark.parametrize("role, status", [("MANAGER", 200), ("AGENT", 403), ("VIEWER", 403)])
def test_detail_needs_analytics_view(testapp, login_as, make_user, company, team, role, status):
    login_as(make_user(company, role))
    testapp.get("/api/v1/analytics/summary", {**since_november(), "detail": "utm"}, status=status)
    testapp.get("/analytics", {**since_november(), "detail": "utm"}, status=status)
    testapp.get("/analytics/by_utm_medium.csv", {**since_november(), "detail": "utm"}, status=status)


@pytest.mark.parametrize("value", ["medium", "UTM,quiz", "x" * 300, "%00"])
def test_a_bad_detail_is_a_400_that_says_why(testapp, login_as, owner, team, value):
    login_as(owner)
    error = testapp.get("/api/v1/analytics/summary", {"detail": value}, status=400).json["error"]
    # The API checks its documented parameters before the view runs: the field names it.
    assert "utm" in error["fields"]["detail"] and "detail" in error["message"]
    page = testapp.get("/analytics", {"detail": value}, status=400)
    assert "detail must be utm" in page.text
    csv = testapp.get("/analytics/by_campaign.csv", {"detail": value}, status=400)
    assert "detail must be utm" in csv.text


def test_the_new_fields_are_in_the_openapi_document(testapp):
    operation = testapp.get("/api/v1/openapi.json").json["paths"]["/api/v1/analytics/summary"]["get"]
    assert "detail" in [parameter["name"] for parameter in operation["parameters"]]
    schema = testapp.get("/api/v1/openapi.json").json["components"]["schemas"]["AnalyticsSummary"]["properties"]
    assert {"by_owner", "by_utm_medium", "by_utm_content", "median_days_to_win"} <= set(schema)
    assert "median_seconds_to_first_activity" in schema["by_owner"]["items"]["properties"]
    leads = testapp.get("/api/v1/openapi.json").json["paths"]["/api/v1/leads"]["get"]
    assert {"utm_medium", "utm_content", "won_from", "won_to"} <= {p["name"] for p in leads["parameters"]}
