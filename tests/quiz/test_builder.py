"""The quiz builder as managers use it, and who may use it."""

from __future__ import annotations

import re

import pytest
from quizkit import FULL_QUIZ, make_quiz
from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow_plugins.quiz.models import Quiz, QuizQuestion
from support import csrf_token


def actions(db) -> list[str]:
    return [entry.action for entry in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def new_quiz(client, title="Lead magnet", slug="", status=303):
    return client.post("/quizzes/new", {"title": title, "slug": slug, "csrf_token": csrf_token(client)}, status=status)


def test_manager_builds_previews_and_publishes_a_quiz(testapp, db, company, manager, login_as, unchanged, funnel):
    company.privacy_policy_url = "https://acme.example/privacy"
    db.commit()
    login_as(manager)
    response = new_quiz(testapp, "Which plan fits?")
    quiz = db.scalars(select(Quiz)).one()
    assert quiz.slug == "which-plan-fits" and quiz.status == "draft"
    builder = response.follow()
    assert "Add at least one question." in builder.text

    # Publishing too early lists what is missing and changes nothing.
    token = csrf_token(testapp)
    with unchanged():
        early = testapp.post(f"/quizzes/{quiz.id}/state/publish", {"csrf_token": token}, status=303).follow()
    assert "Not published yet: Add at least one question." in early.html.find(class_="flash").get_text()
    db.expire_all()
    assert db.get(Quiz, quiz.id).status == "draft"

    form = {"csrf_token": token, "kind": "single", "text": "Team size?", "required": "1"}
    bad = testapp.post(f"/quizzes/{quiz.id}/questions/new", {**form, "option_label_1": "Solo"}, status=400)
    assert "at least two options" in bad.text and 'value="Solo"' in bad.text
    testapp.post(
        f"/quizzes/{quiz.id}/questions/new",
        {**form, "option_label_1": "Solo", "option_score_1": "1", "option_label_2": "Team", "option_score_2": "5"},
        status=303,
    )
    testapp.post(
        f"/quizzes/{quiz.id}/questions/new",
        {"csrf_token": token, "kind": "rating", "text": "How urgent?", "scale": "7", "scored": "1"},
        status=303,
    )
    questions = db.scalars(select(QuizQuestion).order_by(QuizQuestion.position)).all()
    assert [q.text for q in questions] == ["Team size?", "How urgent?"]
    assert [o.label for o in questions[0].options] == ["Solo", "Team"] and questions[1].rating_scale == 7

    # Reorder.
    testapp.post(f"/quizzes/{quiz.id}/questions/{questions[1].id}/move", {"csrf_token": token, "direction": "up"})
    db.expire_all()
    assert [q.text for q in db.scalars(select(QuizQuestion).order_by(QuizQuestion.position))] == [
        "How urgent?",
        "Team size?",
    ]

    # Outcomes by score range, without overlaps.
    testapp.post(f"/quizzes/{quiz.id}/outcomes", {"csrf_token": token, "title": "Cold", "max_score": "5"}, status=303)
    overlap = testapp.post(
        f"/quizzes/{quiz.id}/outcomes", {"csrf_token": token, "title": "Warm", "min_score": "4"}, status=400
    )
    assert "overlaps “Cold”" in overlap.text
    testapp.post(f"/quizzes/{quiz.id}/outcomes", {"csrf_token": token, "title": "Hot", "min_score": "6"}, status=303)

    # Preview scores without storing anything (no submission, lead or funnel event).
    team = next(o.id for o in questions[0].options if o.label == "Team")
    with unchanged():
        preview = testapp.get(f"/quizzes/{quiz.id}/preview")
        assert "Preview" in preview.text
        scored = testapp.post(
            f"/quizzes/{quiz.id}/preview",
            {
                "csrf_token": token,
                f"q_{questions[0].id}": str(team),
                f"q_{questions[1].id}": "3",
                "email": "x@example.com",
                "consent": "1",
            },
        )
        funnel.flush()
    assert "Score: <strong>8</strong>" in scored.text and "Hot" in scored.text

    testapp.post(f"/quizzes/{quiz.id}/state/publish", {"csrf_token": token}, status=303)
    db.expire_all()
    assert db.get(Quiz, quiz.id).status == "published"
    page = testapp.get(f"/quizzes/{quiz.id}")
    assert f"/q/{company.subscription_id}/which-plan-fits" in page.text
    assert "&lt;iframe" in page.text  # the embed snippet
    for action in ("quiz.create", "quiz.question.create", "quiz.question.move", "quiz.outcome.create", "quiz.publish"):
        assert action in actions(db)


def test_settings_are_validated_and_kept(testapp, db, company, manager, login_as, quiz):
    login_as(manager)
    response = testapp.post(
        f"/quizzes/{quiz.id}/settings",
        {
            "csrf_token": csrf_token(testapp),
            "title": "",
            "slug": "Bad Slug!",
            "brand_color": "blue",
            "logo_url": "http://insecure.example/logo.png",
            "redirect_url": "javascript:alert(1)",
            "contact_name": "optional",
            "contact_email": "off",
            "contact_phone": "optional",
            "thank_you_message": "Thanks",
            "intro": "Kept intro",
        },
        status=400,
    )
    text = response.text
    assert "Give the quiz a title." in text
    assert "lowercase letters, digits and dashes" in text
    assert "Use a colour like #4f46e5." in text
    assert "https://" in text and "Enter a full http:// or https:// address." in text
    assert "Require an email address or a phone number" in text
    assert "Kept intro" in text
    db.expire_all()
    assert db.get(Quiz, quiz.id).title == "Find your plan"
    assert "quiz.update" not in actions(db)

    good = {
        "csrf_token": csrf_token(testapp),
        "title": "Pick a plan",
        "slug": "pick-a-plan",
        "brand_color": "#112233",
        "logo_url": "https://acme.example/logo.png",
        "redirect_url": "https://acme.example/thanks",
        "contact_name": "required",
        "contact_email": "required",
        "contact_phone": "off",
        "thank_you_message": "Thanks a lot",
        "intro": "Two minutes",
    }
    testapp.post(f"/quizzes/{quiz.id}/settings", good, status=303)
    db.expire_all()
    kept = db.get(Quiz, quiz.id)
    assert {name: getattr(kept, name) for name in good if name != "csrf_token"} == {
        name: value for name, value in good.items() if name != "csrf_token"
    }
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "quiz.update")).one()
    assert entry.changes["title"] == {"from": "Find your plan", "to": "Pick a plan"}
    # The builder shows the saved settings.
    page = testapp.get(f"/quizzes/{quiz.id}")
    form = next(form for form in page.forms.values() if form.action.endswith("/settings"))
    assert (form["title"].value, form["slug"].value, form["brand_color"].value) == (
        "Pick a plan",
        "pick-a-plan",
        "#112233",
    )


def test_published_quiz_must_stay_complete(testapp, db, company, manager, login_as):
    quiz = make_quiz(db, company, {**FULL_QUIZ, "questions": FULL_QUIZ["questions"][:1]})
    login_as(manager)
    token = csrf_token(testapp)
    testapp.post(f"/quizzes/{quiz.id}/questions/{quiz.questions[0].id}/delete", {"csrf_token": token}, status=303)
    db.expire_all()
    assert len(db.get(Quiz, quiz.id).questions) == 1
    company.privacy_policy_url = None
    db.commit()
    form = {name: getattr(quiz, name) or "" for name in ("title", "slug", "intro", "brand_color", "consent_text")}
    form.update(contact_name="optional", contact_email="required", contact_phone="off", thank_you_message="Hi")
    refused = testapp.post(
        f"/quizzes/{quiz.id}/settings", {**form, "csrf_token": token, "consent_enabled": "1"}, status=400
    )
    assert "privacy policy" in refused.text


def test_slug_is_checked_as_typed(testapp, db, company, manager, login_as, quiz):
    login_as(manager)
    taken = testapp.get("/quizzes/slug-check", {"slug": quiz.slug}).json
    assert taken["available"] is False and taken["suggestion"] == "find-your-plan-2"
    assert testapp.get("/quizzes/slug-check", {"slug": quiz.slug, "quiz_id": quiz.id}).json["available"] is True
    assert testapp.get("/quizzes/slug-check", {"slug": "new-one"}).json["available"] is True
    assert testapp.get("/quizzes/slug-check", {"slug": "Nope!"}).json["available"] is False
    clash = new_quiz(testapp, "Another", quiz.slug, status=400)
    assert "Another quiz of your company uses this slug." in clash.text


def test_quota_is_enforced_with_a_clear_message(testapp, db, make_company, make_user, login_as):
    free = make_company(name="Free Co", plan="FREE")
    owner = make_user(free, "OWNER")
    login_as(owner)
    new_quiz(testapp, "The only one")
    refused = new_quiz(testapp, "One too many", status=400)
    assert "Your Free plan allows 1 quiz and you have 1." in refused.text
    assert "Archive a quiz" in refused.text
    quiz = db.scalars(select(Quiz)).one()
    token = csrf_token(testapp)
    duplicate = testapp.post(f"/quizzes/{quiz.id}/duplicate", {"csrf_token": token}, status=303).follow()
    assert "plan allows 1 quiz" in duplicate.text
    testapp.post(f"/quizzes/{quiz.id}/state/archive", {"csrf_token": token}, status=303)
    new_quiz(testapp, "Now there is room")
    restored = testapp.post(f"/quizzes/{quiz.id}/state/restore", {"csrf_token": token}, status=303).follow()
    assert "plan allows 1 quiz" in restored.text


def test_duplicate_copies_questions_outcomes_as_a_draft(testapp, db, company, manager, login_as, quiz):
    login_as(manager)
    testapp.post(f"/quizzes/{quiz.id}/duplicate", {"csrf_token": csrf_token(testapp)}, status=303)
    copy = db.scalars(select(Quiz).where(Quiz.id != quiz.id)).one()
    assert (copy.title, copy.slug, copy.status) == ("Find your plan (copy)", "find-your-plan-copy", "draft")
    assert [q.text for q in copy.questions] == [q.text for q in quiz.questions]
    assert [len(q.options) for q in copy.questions] == [len(q.options) for q in quiz.questions]
    assert [o.title for o in copy.outcomes] == ["Starter", "Growth"]
    assert "quiz.duplicate" in actions(db)


@pytest.mark.parametrize("role", ["AGENT", "VIEWER"])
def test_agents_and_viewers_cannot_edit(testapp, db, company, make_user, login_as, quiz, role, unchanged):
    login_as(make_user(company, role))
    assert testapp.get("/quizzes").status_int == 200
    token = csrf_token(testapp)
    question, outcome = quiz.questions[0], quiz.outcomes[0]
    base = f"/quizzes/{quiz.id}"
    with unchanged():
        testapp.get("/quizzes/new", status=403)
        for path, fields in (
            ("/quizzes/new", {"title": "Sneaky quiz"}),
            (f"{base}/settings", {"title": "x"}),
            (f"{base}/questions/new", {"kind": "text", "text": "Sneaky?"}),
            (f"{base}/questions/{question.id}", {"text": "Changed?"}),
            (f"{base}/questions/{question.id}/move", {"direction": "down"}),
            (f"{base}/questions/{question.id}/delete", {}),
            (f"{base}/outcomes", {"title": "Sneaky outcome"}),
            (f"{base}/outcomes/{outcome.id}", {"title": "Changed"}),
            (f"{base}/outcomes/{outcome.id}/delete", {}),
            (f"{base}/duplicate", {}),
            *((f"{base}/state/{action}", {}) for action in ("publish", "unpublish", "archive", "restore")),
        ):
            testapp.post(path, {"csrf_token": token, **fields}, status=403)
    db.expire_all()
    kept = db.get(Quiz, quiz.id)
    assert (kept.title, kept.status, len(kept.questions), len(kept.outcomes)) == (
        quiz.title,
        "published",
        len(FULL_QUIZ["questions"]),
        len(FULL_QUIZ["outcomes"]),
    )


def test_without_csrf_token_nothing_changes(testapp, db, manager, login_as, quiz):
    login_as(manager)
    testapp.post(f"/quizzes/{quiz.id}/state/unpublish", {}, status=400)
    db.expire_all()
    assert db.get(Quiz, quiz.id).status == "published"


def test_other_company_quiz_is_404_in_the_builder(testapp, db, make_company, make_user, login_as, quiz):
    intruder = make_user(make_company(name="Intruder Co"), "OWNER")
    login_as(intruder)
    token = csrf_token(testapp)
    question = quiz.questions[0]
    for path in (
        f"/quizzes/{quiz.id}",
        f"/quizzes/{quiz.id}/preview",
        f"/quizzes/{quiz.id}/submissions",
        f"/quizzes/{quiz.id}/submissions.csv",
        f"/quizzes/{quiz.id}/questions/{question.id}",
    ):
        testapp.get(path, status=404)
    testapp.post(f"/quizzes/{quiz.id}/state/unpublish", {"csrf_token": token}, status=404)
    testapp.post(f"/quizzes/{quiz.id}/duplicate", {"csrf_token": token}, status=404)
    assert testapp.get("/quizzes/slug-check", {"slug": quiz.slug}).json["available"] is True
    db.expire_all()
    assert db.get(Quiz, quiz.id).status == "published"


def test_list_shows_views_completions_leads_and_conversion(testapp, db, company, manager, login_as, quiz, funnel):
    from quizkit import good_answers, public_path, submit

    path = public_path(company, quiz)
    visitor = testapp.__class__(testapp.app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.3.3.3"})
    submit(visitor, path, good_answers(quiz), status=303)
    submit(visitor, path, good_answers(quiz), status=303)
    visitor.get(path)
    visitor.get(path)
    funnel.flush()
    login_as(manager)
    page = testapp.get("/quizzes")
    row = re.search(r"Find your plan.*?</tr>", page.text, re.S).group(0)
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert cells == ["4", "2", "1", "50.0%"]


def test_quiz_list_queries_do_not_grow_with_the_number_of_quizzes(testapp, backend, db, company, manager, login_as):
    from quizkit import FULL_QUIZ
    from sqlalchemy import event

    login_as(manager)

    def statements() -> int:
        seen: list[str] = []

        def count(*_args) -> None:
            seen.append("x")

        event.listen(backend.engine, "before_cursor_execute", count)
        try:
            testapp.get("/quizzes")
        finally:
            event.remove(backend.engine, "before_cursor_execute", count)
        return len(seen)

    def steady_statements() -> int:
        # The per-process caches check for changes at most every few seconds, in whichever
        # request comes: of two requests in a row, one at most makes that check.
        return min(statements(), statements())

    make_quiz(db, company, {**FULL_QUIZ, "slug": "one"})
    with_one = steady_statements()
    for number in range(4):
        make_quiz(db, company, {**FULL_QUIZ, "slug": f"more-{number}"})
    assert steady_statements() == with_one


def _entry(db, action: str) -> AuditEntry:
    db.expire_all()
    return db.scalars(select(AuditEntry).where(AuditEntry.action == action)).one()


def _form_posting_to(page, path: str):
    """The form that posts to ``path`` (or, without an action, to the page itself)."""
    return next(form for form in page.forms.values() if (form.action or page.request.path).endswith(path))


def test_state_question_and_outcome_changes_are_audited(testapp, db, company, manager, login_as, quiz):
    login_as(manager)
    token = csrf_token(testapp)
    base = f"/quizzes/{quiz.id}"
    public = f"/q/{company.subscription_id}/{quiz.slug}"
    testapp.get(public, status=200)

    testapp.post(f"{base}/state/unpublish", {"csrf_token": token}, status=303)
    assert _entry(db, "quiz.unpublish").changes == {"status": {"from": "published", "to": "unpublished"}}
    testapp.get(public, status=404)  # visitors no longer reach it

    website = next(q for q in quiz.questions if q.text == "Your website?")
    website_id = website.id
    form = _form_posting_to(testapp.get(f"{base}/questions/{website.id}"), f"/questions/{website.id}")
    form["text"] = "Your web address?"
    form.submit(status=303)
    entry = _entry(db, "quiz.question.update")
    assert (entry.target_id, entry.actor_id) == (str(quiz.id), manager.id)
    assert entry.changes["text"] == {"from": "Your website?", "to": "Your web address?"}
    assert entry.changes["question_id"] == {"from": website.id, "to": website.id}

    testapp.post(f"{base}/questions/{website_id}/delete", {"csrf_token": token}, status=303)
    assert _entry(db, "quiz.question.delete").changes["question_id"] == {"from": website_id, "to": None}
    assert db.scalars(select(QuizQuestion.id).where(QuizQuestion.id == website_id)).all() == []

    growth = next(o for o in quiz.outcomes if o.title == "Growth")
    form = _form_posting_to(testapp.get(f"{base}/outcomes/{growth.id}"), f"/outcomes/{growth.id}")
    form["title"] = "Scale-up"
    form.submit(status=303)
    assert _entry(db, "quiz.outcome.update").changes["title"] == {"from": "Growth", "to": "Scale-up"}

    starter_id = next(o.id for o in quiz.outcomes if o.title == "Starter")
    testapp.post(f"{base}/outcomes/{starter_id}/delete", {"csrf_token": token}, status=303)
    assert _entry(db, "quiz.outcome.delete").changes == {
        "outcome_id": {"from": starter_id, "to": None},
        "title": {"from": "Starter", "to": None},
    }

    testapp.post(f"{base}/state/archive", {"csrf_token": token}, status=303)
    assert _entry(db, "quiz.archive").changes == {"status": {"from": "unpublished", "to": "archived"}}
    testapp.post(f"{base}/state/restore", {"csrf_token": token}, status=303)
    assert _entry(db, "quiz.restore").changes == {"status": {"from": "archived", "to": "unpublished"}}
    assert db.get(Quiz, quiz.id).status == "unpublished"
