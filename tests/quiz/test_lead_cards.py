"""Quiz leads on the board and in the list: the latest submission's score and outcome, and
filters by quiz and by campaign."""

from __future__ import annotations

import pytest
from quizkit import FULL_QUIZ, good_answers, make_quiz, public_path, submit
from sqlalchemy import select

from orbitflow.leads.models import Lead, Stage
from statements import Statements


@pytest.fixture
def owner(company, make_user):
    return make_user(company, "OWNER", username="olga")


def visit(client, company, quiz, email: str, query: str = "", name: str = "Ada Lovelace", **answers):
    fields = good_answers(quiz, email=email, name=name)
    if answers:
        fields = [(key, answers.get(key, value)) for key, value in fields]
    submit(client, public_path(company, quiz), fields, status=303, query=query)


def card(page, name: str):
    return next(li for li in page.html.select("li.kcard") if li.select_one(".kcard-name").get_text() == name)


def facts_of(element) -> dict[str, str]:
    return {div.dt.get_text(): div.dd.get_text() for div in element.select(".kcard-facts div")}


def test_cards_and_list_show_the_latest_submissions_score_and_outcome(testapp, db, company, quiz, owner, login_as):
    visit(testapp, company, quiz, "ada@example.com")
    stage = db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)).first()
    db.add(Lead(company_id=company.id, name="Walk-in", stage_id=stage.id))
    db.commit()
    login_as(owner)
    board = testapp.get("/pipeline")
    assert facts_of(card(board, "Ada Lovelace")) == {"Score": "12", "Outcome": "Growth"}
    assert card(board, "Walk-in").select_one(".kcard-facts") is None
    # The same visitor again, with a lower score: the card shows the latest.
    solo = next(o.id for q in quiz.questions if q.text == "Team size?" for o in q.options if o.label == "Solo")
    team_field = next(q.field_name for q in quiz.questions if q.text == "Team size?")
    visit(testapp, company, quiz, "ada@example.com", **{team_field: str(solo)})
    assert facts_of(card(testapp.get("/pipeline"), "Ada Lovelace")) == {"Score": "8", "Outcome": "Starter"}
    listing = testapp.get("/leads")
    headers = [th.get_text(strip=True) for th in listing.html.select("table.leads-table th")]
    assert "Score" in headers and "Outcome" in headers
    rows = {
        tr.select_one("td a").get_text(): dict(
            zip(headers, [td.get_text(strip=True) for td in tr.select("td")], strict=True)
        )
        for tr in listing.html.select("table.leads-table tbody tr")
    }
    assert rows["Ada Lovelace"]["Score"] == "8" and rows["Ada Lovelace"]["Outcome"] == "Starter"
    assert rows["Walk-in"]["Score"] == "" and rows["Walk-in"]["Outcome"] == ""


@pytest.mark.parametrize("url", ["/pipeline", "/leads"])
def test_the_facts_cost_one_statement_whatever_the_number_of_leads(
    backend, testapp, company, quiz, owner, login_as, url
):
    for number in range(2):
        visit(testapp, company, quiz, f"few{number}@example.com")
    login_as(owner)
    testapp.get(url)  # warm-up
    with Statements(backend.engine) as few:
        testapp.get(url)
    for number in range(6):
        visit(testapp, company, quiz, f"many{number}@example.com")
    with Statements(backend.engine) as many:
        page = testapp.get(url)
    assert len(many.sent) == len(few.sent), "\n".join(many.sent)
    assert sum("quiz_submissions" in statement for statement in many.sent) == 1
    assert page.text.count("Growth") >= 8


@pytest.mark.parametrize(
    ("url", "selector"), [("/pipeline", ".kcard-name"), ("/leads", "table.leads-table tbody td a")]
)
def test_board_and_list_filter_by_quiz_and_campaign(
    testapp, db, company, quiz, owner, login_as, make_company, url, selector
):
    other = make_quiz(db, company, {**FULL_QUIZ, "title": "Second quiz", "slug": "second"})
    rival = make_company(name="Rival")
    make_quiz(db, rival, {**FULL_QUIZ, "title": "Rival quiz", "slug": "rival"})
    visit(testapp, company, quiz, "spring@example.com", query="?utm_campaign=spring", name="spring")
    visit(testapp, company, other, "autumn@example.com", query="?utm_campaign=autumn", name="autumn")
    visit(testapp, company, other, "plain@example.com", name="plain")
    login_as(owner)
    page = testapp.get(url)
    quizzes = [option.get_text() for option in page.html.select("#filter-quiz_id option")]
    assert quizzes == ["Any", "Find your plan", "Second quiz"]  # never another company's
    campaigns = [option.get_text() for option in page.html.select("#filter-utm_campaign option")]
    assert campaigns == ["Any", "autumn", "spring"]

    def names(params) -> set[str]:
        return {a.get_text() for a in testapp.get(url, params).html.select(selector)}

    assert names({"quiz_id": other.id}) == {"autumn", "plain"}
    assert names({"utm_campaign": "spring"}) == {"spring"}
    assert names({"quiz_id": other.id, "utm_campaign": "autumn"}) == {"autumn"}
    chosen = testapp.get(url, {"quiz_id": other.id}).html.select_one("#filter-quiz_id option[selected]")
    assert chosen["value"] == str(other.id)
    # A malformed filter is a 400 that names it, no server error.
    assert "quiz_id: Must be a whole number." in testapp.get(url, {"quiz_id": "x"}, status=400).text
