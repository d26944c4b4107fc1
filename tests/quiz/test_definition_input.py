"""Bad quiz definitions, one rule at a time: the builder's forms answer 400 with the rule's
message beside the field, the API 422 naming the field, and nothing is stored or audited."""

from __future__ import annotations

import pytest
from quizkit import FULL_QUIZ, make_quiz

from support import csrf_token

LONG = "x" * 5001

GOOD_SETTINGS = {
    "title": "Pick a plan",
    "slug": "pick-a-plan",
    "brand_color": "#112233",
    "logo_url": "",
    "redirect_url": "",
    "contact_name": "optional",
    "contact_email": "required",
    "contact_phone": "off",
    "thank_you_message": "Thanks",
    "intro": "",
    "consent_text": "",
}


@pytest.fixture
def builder(testapp, login_as, manager):
    login_as(manager)
    return testapp


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "t" * 201}, "Use at most 200 characters."),
        ({"slug": ""}, "Enter a slug: it becomes the end of the"),
        ({"intro": LONG}, "Use at most 5000 characters."),
        ({"contact_name": "sometimes"}, "Choose off, optional or required."),
        ({"consent_text": "c" * 301}, "Use at most 300 characters."),
        ({"thank_you_message": LONG}, "Use at most 5000 characters."),
        ({"consent_enabled": "on", "consent_text": ""}, "Write the consent sentence visitors agree to."),
        ({"thank_you_message": "", "redirect_url": ""}, "Write a thank-you message or give a redirect address."),
    ],
    ids=["long-title", "no-slug", "long-intro", "contact-mode", "long-consent", "long-thanks", "consent", "thanks"],
)
def test_each_bad_setting_is_refused_in_the_builder(builder, quiz, unchanged, fields, message):
    body = {**GOOD_SETTINGS, **fields, "csrf_token": csrf_token(builder)}
    with unchanged():
        page = builder.post(f"/quizzes/{quiz.id}/settings", body, status=400)
    assert message in page.text


def question_form(**fields: str) -> dict[str, str]:
    return {"kind": "single", "text": "Team size?", "option_label_1": "Small", "option_label_2": "Large", **fields}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "essay"}, "Choose one of: single, multiple"),
        ({"text": ""}, "Write the question."),
        ({"text": "q" * 501}, "Use at most 500 characters."),
        ({"help_text": "h" * 501}, "Use at most 500 characters."),
        ({"kind": "number", "min_value": "many"}, "Enter a number."),
        ({"kind": "number", "max_value": "1e10"}, "Enter a smaller number."),
        ({"kind": "number", "max_value": "Infinity"}, "Enter a smaller number."),
        ({"kind": "number", "min_value": "5", "max_value": "1,5"}, "must not be below the smallest."),
        ({"kind": "rating", "scale": "ten"}, "Enter a whole number."),
        ({"kind": "rating", "scale": "11"}, "Use a number from -10 to 10."),
        ({"kind": "rating", "scale": "2"}, "A rating scale goes up to 3 to 10 stars."),
        ({"option_label_2": "L" * 201}, "Use at most 200 characters."),
        ({"option_label_2": "small"}, "is listed twice."),
        ({"option_score_1": "lots"}, "Enter a whole number."),
        ({"option_score_1": "100001"}, "Use a number from -100000 to 100000."),
        ({"option_label_2": ""}, "Give a choice question at least two options."),
        ({f"option_label_{n}": f"Option {n}" for n in range(1, 52)}, "Use at most 50 options."),
    ],
    ids=[
        "kind",
        "no-text",
        "long-text",
        "long-help",
        "not-a-number",
        "huge-number",
        "infinite",
        "min-above-max",
        "scale-not-whole",
        "scale-too-big",
        "scale-too-small",
        "long-option",
        "twice",
        "score-not-whole",
        "score-too-big",
        "one-option",
        "51-options",
    ],
)
def test_each_bad_question_is_refused_in_the_builder(builder, db, company, unchanged, fields, message):
    quiz = make_quiz(db, company, publish=False)  # a draft: any question may change
    body = {**question_form(**fields), "csrf_token": csrf_token(builder)}
    with unchanged():
        page = builder.post(f"/quizzes/{quiz.id}/questions/new", body, status=400)
    assert message in page.text
    # An edit of an existing question is held to the same rules.
    question = quiz.questions[0]
    with unchanged():
        page = builder.post(f"/quizzes/{quiz.id}/questions/{question.id}", body, status=400)
    assert message in page.text


@pytest.mark.parametrize(
    ("outcomes", "fields", "message"),
    [
        ([], {"title": ""}, "Give the outcome a title."),
        ([], {"title": "o" * 201}, "Use at most 200 characters."),
        ([], {"description": LONG}, "Use at most 5000 characters."),
        ([], {"min_score": "low"}, "Enter a whole number."),
        ([], {"max_score": "100001"}, "Use a number from -100000 to 100000."),
        ([], {"min_score": "10", "max_score": "5"}, "The highest score must not be below the lowest."),
        ([{"title": "Starter", "min_score": None, "max_score": 9}], {"max_score": "3"}, "“Starter” (up to 9)"),
        ([{"title": "Growth", "min_score": 10, "max_score": None}], {"min_score": "12"}, "“Growth” (10 and up)"),
        ([{"title": "Mid", "min_score": 3, "max_score": 7}], {"min_score": "7"}, "“Mid” (3 to 7)"),
        ([{"title": "All", "min_score": None, "max_score": None}], {"min_score": "1"}, "“All” (any score)"),
    ],
    ids=[
        "no-title",
        "long-title",
        "long-description",
        "min-not-whole",
        "max-too-big",
        "min-above-max",
        "overlaps-up-to",
        "overlaps-and-up",
        "overlaps-range",
        "overlaps-any",
    ],
)
def test_each_bad_outcome_is_refused_in_the_builder(builder, db, company, unchanged, outcomes, fields, message):
    quiz = make_quiz(db, company, {**FULL_QUIZ, "outcomes": outcomes})
    body = {"title": "Pro", "description": "", "min_score": "", "max_score": "", **fields}
    with unchanged():
        page = builder.post(f"/quizzes/{quiz.id}/outcomes", {**body, "csrf_token": csrf_token(builder)}, status=400)
    assert message in page.text
    if outcomes:
        return
    # An edit is held to the same rules (and never overlaps the outcome itself).
    own = make_quiz(db, company, {**FULL_QUIZ, "slug": "own", "outcomes": [{"title": "Only"}]})
    with unchanged():
        page = builder.post(
            f"/quizzes/{own.id}/outcomes/{own.outcomes[0].id}", {**body, "csrf_token": csrf_token(builder)}, status=400
        )
    assert message in page.text


@pytest.fixture
def api(testapp, login_as, manager):
    login_as(manager)
    headers = {"X-CSRF-Token": csrf_token(testapp)}

    def send(method: str, path: str, body, status: int):
        return getattr(testapp, f"{method}_json")(path, body, headers=headers, status=status)

    return send


QUESTION = {"kind": "single", "text": "Team size?", "options": [{"label": "Small"}, {"label": "Large"}]}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"title": "   "}, "title", "Give the quiz a title."),
        ({"logo_url": "http://acme.example/logo.png"}, "logo_url", "https://"),
        ({"consent_enabled": True, "consent_text": " "}, "consent_text", "Write the consent sentence"),
        ({"questions": [{**QUESTION, "text": " "}]}, "questions.1.text", "Write the question."),
        (
            {"questions": [{**QUESTION, "options": [{"label": "Small"}, {"label": " "}]}]},
            "questions.1.option_2",
            "Give the option a label.",
        ),
        (
            {"questions": [{**QUESTION, "options": [{"label": "Small"}, {"label": "SMALL"}]}]},
            "questions.1.option_2",
            "is listed twice.",
        ),
        (
            {"questions": [{"kind": "number", "text": "Budget?", "min_value": "9", "max_value": "1"}]},
            "questions.1.max_value",
            "must not be below the smallest.",
        ),
        (
            {"questions": [{"kind": "rating", "text": "Stars?", "max_value": "12"}]},
            "questions.1.max_value",
            "Use a number from -10 to 10.",
        ),
        ({"outcomes": [{"title": " "}]}, "outcomes.1.title", "Give the outcome a title."),
        (
            {"outcomes": [{"title": "Low", "min_score": 5, "max_score": 1}]},
            "outcomes.1.max_score",
            "The highest score must not be below the lowest.",
        ),
        (
            {"outcomes": [{"title": "Low", "max_score": 9}, {"title": "High", "min_score": 9}]},
            "outcomes.2.min_score",
            "overlaps “Low” (up to 9)",
        ),
    ],
    ids=[
        "blank-title",
        "insecure-logo",
        "blank-consent",
        "blank-question",
        "blank-option",
        "twice",
        "min-above-max",
        "scale",
        "blank-outcome",
        "scores-reversed",
        "overlap",
    ],
)
def test_each_bad_definition_is_refused_by_the_api(api, db, company, unchanged, body, field, message):
    quiz = make_quiz(db, company, publish=False)
    with unchanged():
        error = api("patch", f"/api/v1/quizzes/{quiz.id}", body, 422).json["error"]
    assert error["code"] == "invalid"
    assert message in error["fields"][field], error["fields"]
    with unchanged():
        error = api("post", "/api/v1/quizzes", {"title": "New one", "slug": "new-one", **body}, 422).json["error"]
    assert message in error["fields"][field], error["fields"]


def test_publishing_an_archived_quiz_lists_the_restore_first(api, db, company):
    company.privacy_policy_url = "https://acme.example/privacy"
    db.commit()
    quiz = make_quiz(db, company, publish=False)
    quiz.status = "archived"
    db.commit()
    error = api("post", f"/api/v1/quizzes/{quiz.id}/publish", {}, 422).json["error"]
    assert list(error["fields"].values()) == ["Restore the quiz from the archive first."]
