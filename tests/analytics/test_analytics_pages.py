"""The analytics pages show the API's numbers, link them to the lead list, and refuse
users without analytics.view."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from test_analytics_api import NOVEMBER, fixture  # noqa: F401  (the shared known fixture)


def kpi(page, name: str) -> str:
    match = re.search(rf'data-kpi="{name}"[^>]*>([^<]*)<', page.text)
    assert match, name
    return match.group(1).strip()


def test_dashboard_shows_the_summary_numbers(testapp, login_as, owner, fixture):  # noqa: F811
    login_as(owner)
    api = testapp.get("/api/v1/analytics/summary", NOVEMBER).json
    page = testapp.get("/analytics", NOVEMBER)
    assert kpi(page, "leads") == str(api["leads"]) == "3"
    assert kpi(page, "conversion_rate") == "33.3%"
    assert "Analytics" in page.html.select_one("nav").text
    table = page.html.select_one("#table-by_source")
    rows = {tr.select("td")[0].text: tr.select("td")[1].text for tr in table.select("tbody tr")}
    assert rows == {"manual": "2", "api": "1"}
    link = table.select_one("a")["href"]
    assert "source=" in link and "/leads" in link
    assert page.html.select("canvas[data-chart]")
    assert page.html.select_one('script[type="application/json"]#analytics-data')
    csv = testapp.get("/analytics/by_source.csv", NOVEMBER)
    assert csv.content_type == "text/csv"
    assert csv.text.splitlines()[1:] == ["manual,2,0", "api,1,0"]


def test_campaign_link_finds_the_leads_without_a_campaign(testapp, login_as, owner, fixture):  # noqa: F811
    login_as(owner)
    page = testapp.get("/leads", {"utm_source": "none", "utm_campaign": "none"})
    assert "First morning" in page.text and "Evening before" in page.text
    assert "Last evening" not in page.text


def test_funnel_page_shows_the_questions(testapp, login_as, owner, fixture):  # noqa: F811
    login_as(owner)
    quiz = fixture["quiz"]
    page = testapp.get(f"/analytics/quizzes/{quiz.id}", NOVEMBER)
    rows = [[td.text for td in tr.select("td")] for tr in page.html.select("#table-questions tbody tr")]
    assert rows == [["Team size?", "4", "4", "0"], ["Website?", "4", "3", "1"], ["Happy?", "3", "2", "1"]]
    assert kpi(page, "completion_rate") == "50.0%"


def test_another_companys_funnel_page_is_not_found(testapp, login_as, make_company, make_user, fixture):  # noqa: F811
    other = make_company(name="Other")
    login_as(make_user(other, "OWNER"))
    testapp.get(f"/analytics/quizzes/{fixture['quiz'].id}", status=404)


def test_an_empty_company_gets_empty_states(testapp, login_as, owner):
    login_as(owner)
    page = testapp.get("/analytics")
    assert "No leads in this range yet" in page.text


@pytest.mark.parametrize("role", ["AGENT", "VIEWER"])
def test_agents_and_viewers_are_refused(testapp, login_as, make_user, company, role):
    login_as(make_user(company, role))
    testapp.get("/analytics", status=403)
    page = testapp.get("/")
    assert 'href="/analytics"' not in page.text


BAD_RANGES = [
    pytest.param({"from": "2026-11-30", "to": "2026-11-01"}, "same day as from or later.", id="reversed"),
    pytest.param({"from": "01.11.2026", "to": "2026-11-30"}, "a date written YYYY-MM-DD.", id="unparseable"),
    pytest.param({"from": "2026-02-30", "to": "2026-03-01"}, "from is not a calendar date.", id="no-such-day"),
    pytest.param({"from": "2024-01-01", "to": "2026-01-02"}, "at most 731 days", id="too-long"),
]


@pytest.mark.parametrize("params, message", BAD_RANGES)
def test_a_bad_range_on_the_page_is_refused_with_why(testapp, login_as, owner, params, message):
    login_as(owner)
    page = testapp.get("/analytics", params, status=400)
    assert message in page.html.select_one("[role=alert]").text
    # The form keeps what was typed, so it can be corrected.
    assert page.html.select_one("input[name=from]")["value"] == params["from"]
    assert page.html.select_one("input[name=to]")["value"] == params["to"]


@pytest.mark.parametrize("params, message", BAD_RANGES)
def test_a_bad_range_for_a_csv_download_is_refused_with_why(testapp, login_as, owner, params, message):
    login_as(owner)
    answer = testapp.get("/analytics/by_source.csv", params, status=400)
    assert message in answer.text
    assert "attachment" not in answer.headers.get("Content-Disposition", "")


@pytest.mark.parametrize("params, message", BAD_RANGES)
def test_a_bad_range_on_a_quiz_funnel_is_refused_with_why(testapp, login_as, owner, fixture, params, message):  # noqa: F811
    login_as(owner)
    url = f"/analytics/quizzes/{fixture['quiz'].id}"
    page = testapp.get(url, params, status=400)
    assert message in page.html.select_one("[role=alert]").text
    assert page.html.select_one("input[name=from]")["value"] == params["from"]
    assert message in testapp.get(url, {**params, "format": "csv"}, status=400).text


def test_a_good_range_still_answers_200(testapp, login_as, owner):
    login_as(owner)
    testapp.get("/analytics", {"from": "2026-11-01", "to": "2026-11-30"}, status=200)
    testapp.get("/analytics/by_source.csv", {"from": "2026-11-01", "to": "2026-11-30"}, status=200)


def lead_names(page) -> set[str]:
    return {a.text.strip() for a in page.html.select("table a[href*='/leads/']") if a.text.strip()}


def test_a_number_links_to_exactly_its_leads(testapp, login_as, owner, fixture):  # noqa: F811
    login_as(owner)
    page = testapp.get("/analytics", NOVEMBER)
    row = next(tr for tr in page.html.select("#table-by_source tbody tr") if tr.select("td")[0].text == "manual")
    listed = testapp.get(row.select_one("a")["href"])
    # 23:30 on 30 November in Berlin is in, 00:30 on 1 December is not.
    assert lead_names(listed) == {"Last evening", "Twice won"}
    assert "Also filtered by" in listed.text
    total = testapp.get(page.html.select_one('[data-kpi="leads"]')["href"])
    assert lead_names(total) == {"Last evening", "Twice won", "First morning"}


def test_the_lead_list_filters_on_the_quiz_that_created_a_lead(testapp, login_as, owner, kit, company, db, fixture):  # noqa: F811
    from orbitflow_plugins.quiz.models import QuizSubmission

    lead = kit.lead(company, utc_now(), name="From the quiz", source="quiz")
    db.add(
        QuizSubmission(
            company_id=company.id, quiz_id=fixture["quiz"].id, lead_id=lead.id, token="t" * 32, answers=[], contact={}
        )
    )
    db.commit()
    login_as(owner)
    assert lead_names(testapp.get("/leads", {"quiz_id": fixture["quiz"].id})) == {"From the quiz"}
    assert lead_names(testapp.get("/leads", {"quiz_id": fixture["silent"].id})) == set()
    error = testapp.get("/api/v1/leads", {"created_from": "yesterday"}, status=400).json["error"]
    assert "ISO 8601" in str(error)


def utc_now():
    from orbitflow.models.meta import utcnow

    return utcnow()


def test_a_campaign_link_with_reserved_characters_opens_its_leads(testapp, login_as, owner, kit, company):
    login_as(owner)
    campaign = "Spring / 50% & más"
    kit.lead(
        company, datetime(2026, 11, 12, 9), name="Odd campaign", utm={"source": "news letter", "campaign": campaign}
    )
    kit.lead(company, datetime(2026, 11, 12, 10), name="Plain campaign", utm={"source": "news letter", "campaign": "x"})
    kit.flush()
    page = testapp.get("/analytics", NOVEMBER)
    row = next(tr for tr in page.html.select("#table-by_campaign tbody tr") if tr.select("td")[1].text == campaign)
    links = [a["href"] for a in row.select("a")]
    assert lead_names(testapp.get(links[0])) == {"Odd campaign"}
