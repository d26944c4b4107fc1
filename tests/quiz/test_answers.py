"""Every question kind's validation on the public form; errors by the field, answers kept."""

from __future__ import annotations

import pytest
from quizkit import good_answers, public_path, submit
from sqlalchemy import func, select

from orbitflow.leads.models import Lead
from orbitflow_plugins.quiz.models import QuizSubmission


def by_text(quiz, text):
    return next(q for q in quiz.questions if q.text == text)


def replace(fields, name, *values):
    return [(k, v) for k, v in fields if k != name] + [(name, v) for v in values]


@pytest.mark.parametrize(
    ("question", "values", "message"),
    [
        ("Team size?", [], "Answer this question."),
        ("Team size?", ["999999"], "Choose one of the listed answers."),
        ("Channels?", [], "Choose at least one answer."),
        ("Channels?", ["not-an-option"], "Choose one of the listed answers."),
        ("Your website?", ["z" * 501], "Keep the answer under 500 characters."),
        ("Leads per month?", ["lots"], "Enter a number."),
        ("Leads per month?", ["-1"], "Enter 0 or more."),
        ("Leads per month?", ["1001"], "Enter 1000 or less."),
        ("Leads per month?", [""], "Answer this question."),
        ("Happy with your CRM?", ["6"], "Choose a rating from 1 to 5."),
        ("Happy with your CRM?", ["2.5"], "Choose a rating from 1 to 5."),
    ],
)
def test_each_kind_is_validated(testapp, db, company, quiz, question, values, message):
    field = by_text(quiz, question).field_name
    fields = replace(good_answers(quiz), field, *values)
    response = submit(testapp, public_path(company, quiz), fields, status=400)
    assert message in response.text
    assert f'id="field-{field}"' in response.text and "has-error" in response.text
    # Other answers are kept.
    assert 'value="ada@example.com"' in response.text
    assert db.scalar(select(func.count()).select_from(QuizSubmission)) == 0


def test_error_summary_names_each_question_that_needs_an_answer_and_links_to_it(testapp, db, company, quiz):
    """Without JavaScript the page comes back with a summary at the top: one line per
    field, in the form's order, naming the question (not "Answer this question." twice)."""
    team, leads = by_text(quiz, "Team size?"), by_text(quiz, "Leads per month?")
    fields = replace(replace(good_answers(quiz, email="ada.example.com"), team.field_name), leads.field_name)
    response = submit(testapp, public_path(company, quiz), fields, status=400)
    summary = response.html.select_one("#quiz-errors")
    assert summary["role"] == "alert" and summary.find_previous("form") is None
    assert summary.h2.get_text() == "3 answers need your attention"
    lines = [(" ".join(item.get_text().split()), item.a["href"]) for item in summary.select("li")]
    assert lines == [
        ("1. Team size?: Answer this question.", f"#field-{team.field_name}"),
        ("4. Leads per month?: Answer this question.", f"#field-{leads.field_name}"),
        ("Email: Enter an e-mail address like name@example.com (this one has no @).", "#field-email"),
    ]
    # Each link lands on its field, which shows the message again beside the question.
    for _, href in lines:
        field = response.html.select_one(href)
        assert field is not None and "has-error" in field["class"]
    assert db.scalar(select(func.count()).select_from(QuizSubmission)) == 0


def test_error_summary_speaks_of_one_answer_in_the_singular(testapp, company, quiz):
    fields = replace(good_answers(quiz), "consent")
    summary = submit(testapp, public_path(company, quiz), fields, status=400).html.select_one("#quiz-errors")
    assert summary.h2.get_text() == "One answer needs your attention"
    assert " ".join(summary.li.get_text().split()).startswith("Consent: Tick the box to agree")


def test_two_answers_to_a_single_choice_are_refused(testapp, db, company, quiz, funnel):
    question = by_text(quiz, "Team size?")
    ids = [str(o.id) for o in question.options[:2]]
    response = submit(testapp, public_path(company, quiz), replace(good_answers(quiz), question.field_name, *ids))
    assert response.status_int == 400 and "Choose one answer." in response.text
    funnel.flush()
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(QuizSubmission)) == 0
    assert db.scalar(select(func.count()).select_from(Lead)) == 0
    # One answer is taken.
    submit(testapp, public_path(company, quiz), replace(good_answers(quiz), question.field_name, ids[0]), status=303)
    stored = db.scalars(select(QuizSubmission)).one()
    assert [answer["option_ids"] for answer in stored.answers if answer["question_id"] == question.id] == [
        [int(ids[0])]
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "", "Enter your email address."),
        ("email", "not-an-address", "Enter an e-mail address like name@example.com (this one has no @)."),
        ("phone", "12", "valid phone number"),
        ("consent", "", "Tick the box to agree"),
    ],
)
def test_contact_step_is_validated(testapp, company, quiz, field, value, message):
    fields = replace(good_answers(quiz), field, *([value] if value else []))
    response = submit(testapp, public_path(company, quiz), fields, status=400)
    assert message in response.text


def test_optional_questions_may_be_skipped_and_multiple_choice_scores_add_up(testapp, db, company, quiz):
    channels = by_text(quiz, "Channels?")
    website = by_text(quiz, "Your website?")
    fields = replace(good_answers(quiz), website.field_name)
    fields = replace(fields, channels.field_name, *[str(o.id) for o in channels.options])
    submit(testapp, public_path(company, quiz), fields, status=303)
    submission = db.scalars(select(QuizSubmission)).one()
    # Small 5 + (2 + 3 + 1) + rating 4 = 15.
    assert submission.score == 15
    assert [a["question"] for a in submission.answers] == [
        "Team size?",
        "Channels?",
        "Leads per month?",
        "Happy with your CRM?",
    ]
    assert submission.answers[1]["answer"] == "Facebook, TikTok, Email"


def test_redirect_url_replaces_the_thank_you_page(testapp, db, company, quiz):
    quiz.redirect_url = "https://acme.example/thanks?from=quiz"
    db.commit()
    response = submit(testapp, public_path(company, quiz), good_answers(quiz), status=303)
    assert response.location == "https://acme.example/thanks?from=quiz"


def test_funnel_steps_from_the_script(testapp, db, company, quiz, funnel):
    from quizkit import token_of

    from orbitflow_plugins.quiz.models import QuizFunnelEvent

    path = public_path(company, quiz)
    token = token_of(testapp.get(path + "?utm_source=tiktok"))
    events = path + "/events"
    assert testapp.post_json(events, {"token": token, "kind": "start", "utm_source": "tiktok"}).json == {
        "recorded": True
    }
    assert testapp.post_json(events, {"token": token, "kind": "start"}).json == {"recorded": False}
    first = quiz.questions[0].id
    testapp.post_json(events, {"token": token, "kind": "answer", "question_id": first})
    testapp.post_json(events, {"token": token, "kind": "answer", "question_id": 999999}, status=400)
    testapp.post_json(events, {"token": "forged.1.x.y", "kind": "start"}, status=400)
    testapp.post_json(events, {"token": token, "kind": "complete"}, status=400)
    funnel.flush()
    rows = db.scalars(select(QuizFunnelEvent).order_by(QuizFunnelEvent.id)).all()
    assert [(r.kind, r.question_id) for r in rows] == [("view", None), ("start", None), ("answer", first)]
    assert rows[1].utm_source == "tiktok"


def test_steps_reported_by_the_script_are_not_stored_twice(testapp, db, company, quiz, funnel):
    from quizkit import token_of

    from orbitflow_plugins.quiz.models import QuizFunnelEvent

    path = public_path(company, quiz)
    token = token_of(testapp.get(path))
    testapp.post_json(path + "/events", {"token": token, "kind": "start"})
    testapp.post_json(path + "/events", {"token": token, "kind": "answer", "question_id": quiz.questions[0].id})
    submit(testapp, path, [*good_answers(quiz), ("steps", "reported")], token=token, status=303)
    funnel.flush()
    kinds = sorted((e.kind, e.question_id or 0) for e in db.scalars(select(QuizFunnelEvent)))
    expected = sorted([("view", 0), ("start", 0), ("complete", 0)] + [("answer", q.id) for q in quiz.questions])
    assert kinds == expected
