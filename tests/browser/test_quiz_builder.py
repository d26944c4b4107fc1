"""The quiz builder in a real browser: the question editor shows only the chosen kind's
fields, and a rating question reaches visitors as a row of stars."""

from __future__ import annotations

import sys
from pathlib import Path

from support import PASSWORD

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quiz"))

from quizkit import make_quiz

RATING_ONLY = {
    "title": "Rate us",
    "slug": "rate-us",
    "contact_mode": "none",
    "questions": [{"kind": "rating", "text": "How happy are you?", "required": True, "max_value": "5"}],
    "outcomes": [],
}


def sign_in(page, company, user) -> None:
    page.goto("/login")
    page.fill("#subscription_id", company.subscription_id)
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard")


def visible_parts(page) -> list[str]:
    return page.locator(".kind-part:visible").evaluate_all("parts => parts.map(p => p.dataset.kinds)")


def test_question_editor_shows_only_the_chosen_kinds_fields(page, db, make_company, make_user):
    company = make_company(name="Builder Co")
    owner = make_user(company, "OWNER", username="bea")
    quiz = make_quiz(db, company)
    sign_in(page, company, owner)
    page.goto(f"/quizzes/{quiz.id}/questions/new")
    page.select_option("#kind", "rating")
    assert visible_parts(page) == ["rating", "number rating"]
    assert page.get_by_label("Stars (3 to 10)").is_visible()
    assert not page.get_by_text("Allowed numbers").is_visible()
    page.select_option("#kind", "single")
    assert visible_parts(page) == ["single multiple"]
    assert not page.get_by_label("Stars (3 to 10)").is_visible()
    page.select_option("#kind", "number")
    assert visible_parts(page) == ["number", "number rating"]
    page.select_option("#kind", "text")
    assert visible_parts(page) == []


def test_a_rating_question_shows_stars_filled_up_to_the_choice(new_page, db, make_company):
    company = make_company(name="Star Co")
    quiz = make_quiz(db, company, RATING_ONLY)
    visitor = new_page(viewport={"width": 390, "height": 844}, has_touch=True)
    visitor.goto(f"/q/{company.subscription_id}/{quiz.slug}")
    stars = visitor.locator(".quiz-star:visible")
    assert stars.count() == 5
    assert stars.locator(".star").all_inner_texts() == ["★"] * 5
    assert visitor.get_by_role("radio", name="4 of 5").count() == 1
    grey = stars.nth(0).locator(".star").evaluate("e => getComputedStyle(e).color")
    stars.nth(3).click()
    visitor.mouse.move(0, 0)
    # The colour fades in: wait until it settles.
    visitor.wait_for_function(
        """grey => { const c = [...document.querySelectorAll('.quiz-star .star')].map(e => getComputedStyle(e).color);
        return c.slice(0, 4).every(x => x === c[0] && x !== grey) && c[4] === grey; }""",
        arg=grey,
    )
