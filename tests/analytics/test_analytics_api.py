"""The analytics API on a known fixture: exact numbers, time-zone boundaries, a lead won,
reopened and won again, leads without a campaign, a quiz without views, tenancy,
permissions and bad input."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

BERLIN = ZoneInfo("Europe/Berlin")
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def today() -> str:
    return datetime.now(BERLIN).date().isoformat()


@pytest.fixture
def fixture(kit, company):
    """Berlin is UTC+1 in November."""
    # 23:30 local on the last day: in; 00:30 local the day after: out.
    kit.lead(
        company, utc("2026-11-30 22:30"), name="Last evening", value="100", utm={"source": "facebook", "campaign": "bf"}
    )
    kit.lead(company, utc("2026-11-30 23:30"), name="Next morning", utm={"source": "facebook", "campaign": "bf"})
    # 00:30 local on the first day: in; 23:30 local the day before: the previous period.
    kit.lead(company, utc("2026-10-31 23:30"), name="First morning", source="api")
    kit.lead(company, utc("2026-10-31 22:30"), name="Evening before", source="api")
    won = kit.lead(company, utc("2026-11-10 12:00"), name="Twice won", value="500", utm={"source": "tiktok"})
    kit.move(won, company, "Won")
    kit.move(won, company, "Contacted")
    kit.move(won, company, "Won")
    quiz = kit.quiz(company, "Find your plan")
    silent = kit.quiz(company, "Nobody came")
    at = utc("2026-11-15 11:00")
    kit.visit(quiz, "v1", at, 0)
    kit.visit(quiz, "v2", at, 1)
    kit.visit(quiz, "v3", at, 2)
    kit.visit(quiz, "v4", at, 3, complete=True)
    kit.visit(quiz, "v5", at, 3, complete=True, device="desktop")
    # Outside November in Berlin (00:10 on 1 December), so not counted for it.
    kit.visit(quiz, "v6", utc("2026-11-30 23:10"), 0)
    kit.flush()
    return {"quiz": quiz, "silent": silent, "won": won}


def test_summary_counts_the_month_in_the_company_time_zone(testapp, login_as, owner, fixture):
    login_as(owner)
    data = testapp.get("/api/v1/analytics/summary", NOVEMBER).json
    assert (data["from"], data["to"], data["time_zone"]) == ("2026-11-01", "2026-11-30", "Europe/Berlin")
    assert data["leads"] == 3
    # The twice-won lead came in in November and is won now: one of three.
    assert data["conversion_rate"] == 33.3
    assert data["previous"]["leads"] == 1
    assert {row["source"]: row["leads"] for row in data["by_source"]} == {"manual": 2, "api": 1}
    campaigns = {(row["utm_source"], row["utm_campaign"]): row["leads"] for row in data["by_campaign"]}
    assert campaigns == {("facebook", "bf"): 1, (None, None): 1, ("tiktok", None): 1}
    quizzes = {row["title"]: row for row in data["by_quiz"]}
    assert {k: quizzes["Find your plan"][k] for k in ("views", "starts", "completions", "leads")} == {
        "views": 5,
        "starts": 4,
        "completions": 2,
        "leads": 0,
    }
    assert {k: quizzes["Nobody came"][k] for k in ("views", "starts", "completions", "leads", "won")} == dict.fromkeys(
        ("views", "starts", "completions", "leads", "won"), 0
    )


def test_a_lead_won_reopened_and_won_again_counts_once_with_its_value(testapp, login_as, owner, fixture):
    login_as(owner)
    data = testapp.get("/api/v1/analytics/summary", {"from": today(), "to": today()}).json
    assert (data["won"], data["won_value"]) == (1, 500.0)
    assert {row["utm_source"]: row["won"] for row in data["by_campaign"]} == {"tiktok": 1}
    november = testapp.get("/api/v1/analytics/summary", NOVEMBER).json
    assert november["won"] == 0


def test_reopening_takes_the_win_back(kit, company, testapp, login_as, owner, fixture):
    kit.move(fixture["won"], company, "Lost")
    kit.flush()
    login_as(owner)
    data = testapp.get("/api/v1/analytics/summary", {"from": today(), "to": today()}).json
    assert (data["won"], data["won_value"]) == (0, 0.0)


def test_funnel_charges_each_drop_to_the_last_question_reached(testapp, login_as, owner, fixture):
    login_as(owner)
    quiz = fixture["quiz"]
    data = testapp.get(f"/api/v1/analytics/quizzes/{quiz.id}/funnel", NOVEMBER).json
    assert (data["views"], data["starts"], data["completions"]) == (5, 4, 2)
    assert [(q["title"], q["reached"], q["answered"], q["dropped"]) for q in data["questions"]] == [
        ("Team size?", 4, 4, 0),
        ("Website?", 4, 3, 1),
        ("Happy?", 3, 2, 1),
    ]
    assert data["completion_rate"] == 50.0
    devices = {row["device"]: (row["views"], row["starts"], row["completions"]) for row in data["by_device"]}
    assert devices == {"mobile": (4, 3, 1), "desktop": (1, 1, 1)}
    # All time includes the visitor of 1 December.
    assert testapp.get(f"/api/v1/analytics/quizzes/{quiz.id}/funnel").json["views"] == 6


def test_a_quiz_without_views_has_an_empty_funnel(testapp, login_as, owner, fixture):
    login_as(owner)
    data = testapp.get(f"/api/v1/analytics/quizzes/{fixture['silent'].id}/funnel").json
    assert (data["views"], data["starts"], data["completions"], data["completion_rate"]) == (0, 0, 0, None)
    assert [(q["reached"], q["answered"], q["dropped"]) for q in data["questions"]] == [(0, 0, 0)] * 3


def test_another_company_sees_neither_the_funnel_nor_the_numbers(
    kit, make_company, make_user, testapp, login_as, fixture
):
    other = make_company(name="Other", time_zone="Europe/Berlin")
    kit.lead(other, utc("2026-11-12 12:00"), name="Theirs")
    kit.flush()
    login_as(make_user(other, "OWNER"))
    testapp.get(f"/api/v1/analytics/quizzes/{fixture['quiz'].id}/funnel", status=404)
    data = testapp.get("/api/v1/analytics/summary", NOVEMBER).json
    assert (data["leads"], data["by_quiz"], data["won"]) == (1, [], 0)


@pytest.mark.parametrize(
    "role, status", [("OWNER", 200), ("ADMIN", 200), ("MANAGER", 200), ("AGENT", 403), ("VIEWER", 403)]
)
def test_only_roles_with_analytics_view_read_it(testapp, login_as, make_user, company, fixture, role, status):
    login_as(make_user(company, role))
    testapp.get("/api/v1/analytics/summary", NOVEMBER, status=status)
    testapp.get(f"/api/v1/analytics/quizzes/{fixture['quiz'].id}/funnel", status=status)


def test_signed_out_is_refused(testapp, company):
    testapp.get("/api/v1/analytics/summary", status=401)


@pytest.mark.parametrize(
    "params, field, words",
    [
        ({"from": "2026-11-01"}, "to", "both"),
        ({"from": "01.11.2026", "to": "2026-11-30"}, "from", "YYYY-MM-DD"),
        ({"from": "2026-02-30", "to": "2026-03-01"}, "from", "calendar"),
        ({"from": "2026-11-30", "to": "2026-11-01"}, "to", "later"),
        ({"from": "2024-01-01", "to": "2026-01-02"}, "to", "two years"),
    ],
)
def test_bad_ranges_get_400_with_a_message(testapp, login_as, owner, params, field, words):
    login_as(owner)
    error = testapp.get("/api/v1/analytics/summary", params, status=400).json["error"]
    assert words in error["message"]
    assert field in error["fields"]


def test_the_endpoints_are_in_the_openapi_document(testapp):
    paths = testapp.get("/api/v1/openapi.json").json["paths"]
    assert "get" in paths["/api/v1/analytics/summary"]
    assert "get" in paths["/api/v1/analytics/quizzes/{quiz_id}/funnel"]


def test_a_range_of_exactly_two_years_is_allowed(testapp, login_as, owner):
    login_as(owner)
    first = datetime(2024, 12, 2).date()
    last = first + timedelta(days=730)
    testapp.get("/api/v1/analytics/summary", {"from": first.isoformat(), "to": last.isoformat()}, status=200)
