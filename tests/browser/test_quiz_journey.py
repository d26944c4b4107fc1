"""A visitor answers a quiz on a phone, one question at a time; the team finds the lead."""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quiz"))

from quizkit import make_quiz

from orbitflow.shared import shared
from orbitflow_plugins.quiz.settings import QuizSettings
from support import PASSWORD

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def test_visitor_answers_step_by_step_and_the_lead_reaches_the_board(
    new_page, live_server, db, make_company, make_user
):
    company = make_company(name="Sunny Solar")
    manager = make_user(company, "MANAGER", username="maya")
    quiz = make_quiz(db, company)

    visitor = new_page(**PHONE)
    failures: list[str] = []
    visitor.on("pageerror", lambda error: failures.append(str(error)))
    # Content-Security-Policy violations and script errors surface as console errors.
    visitor.on(
        "console",
        lambda m: failures.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None,
    )
    visitor.on(
        "response",
        lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None,
    )
    visitor.goto(f"/q/{company.subscription_id}/{quiz.slug}?utm_source=tiktok&utm_campaign=spring")
    expect(visitor.locator(".quiz-progress-text")).to_have_text("Question 1 of 5")
    # One question at a time.
    expect(visitor.get_by_text("Channels?")).to_be_hidden()
    # Next without an answer explains what is missing.
    visitor.get_by_role("button", name="Next").click()
    expect(visitor.get_by_text("Answer this question.")).to_be_visible()
    visitor.get_by_label("Small").check()
    visitor.get_by_role("button", name="Next").click()

    expect(visitor.locator(".quiz-progress-text")).to_have_text("Question 2 of 5")
    visitor.get_by_label("TikTok").check()
    visitor.get_by_role("button", name="Next").click()
    # Back keeps the answers.
    visitor.get_by_role("button", name="Back").click()
    expect(visitor.get_by_label("TikTok")).to_be_checked()
    visitor.get_by_role("button", name="Next").click()

    visitor.locator("input[name^=q_]:visible").fill("example.org")
    visitor.get_by_role("button", name="Next").click()
    visitor.locator("input[name^=q_]:visible").fill("5000")
    visitor.get_by_role("button", name="Next").click()
    expect(visitor.get_by_text("Enter 1000 or less.")).to_be_visible()
    visitor.locator("input[name^=q_]:visible").fill("250")
    visitor.get_by_role("button", name="Next").click()
    visitor.locator(".quiz-star:visible", has_text="4").click()
    visitor.get_by_role("button", name="Next").click()

    expect(visitor.locator(".quiz-progress-text")).to_have_text("Last step")
    visitor.get_by_role("textbox", name="Your name").fill("Grace Hopper")
    visitor.get_by_role("textbox", name="Email").fill("grace@example.com")
    visitor.get_by_role("checkbox", name="I agree").check()
    # The visitor takes a moment, as people do: the form refuses answers sent sooner than
    # min_fill_seconds after its token was issued (the token's second field).
    visitor.wait_for_function(
        "seconds => Date.now() / 1000 - Number(document.querySelector('form[data-token]')"
        ".getAttribute('data-token').split('.')[1]) >= seconds",
        arg=shared(live_server.app.registry, QuizSettings).min_fill_seconds,
        polling=100,
    )
    visitor.get_by_role("button", name="Send my answers").click()
    expect(visitor.get_by_role("heading", name="Thank you!")).to_be_visible()
    expect(visitor.get_by_text("Growth")).to_be_visible()
    assert not failures, failures
    # Nothing scrolls sideways on a phone.
    assert visitor.evaluate("document.documentElement.scrollWidth") <= 390

    team = new_page()
    team.goto("/login")
    team.fill("#subscription_id", company.subscription_id)
    team.fill("#username", manager.username)
    team.fill("#password", PASSWORD)
    team.click("button[type=submit]")
    team.wait_for_url("**/dashboard")
    team.goto("/pipeline")
    card = team.locator(".kcard", has_text="Grace Hopper")
    expect(card).to_be_visible()
    expect(card.locator(".kcard-source")).to_have_text("quiz")
    card.get_by_role("link", name="Grace Hopper").click()
    expect(team.get_by_text("Team size?")).to_be_visible()
    expect(team.locator("dd", has_text="Small")).to_be_visible()
    expect(team.locator("dd", has_text="TikTok")).to_be_visible()
