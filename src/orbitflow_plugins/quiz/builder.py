"""The quiz builder: list, create, edit settings, questions and outcomes, preview,
publish, duplicate. Forms work without JavaScript; builder.js only adds conveniences."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import select

from orbitflow.audit.services import audit, diff
from orbitflow.config import get_settings
from orbitflow.tenants.models import Company
from orbitflow.web.inputs import parse_id, path_id
from orbitflow.web.layout import flash
from orbitflow_plugins.quiz import answers as answers_module
from orbitflow_plugins.quiz import assignment, definition, services
from orbitflow_plugins.quiz.models import (
    ARCHIVED,
    ASSIGN_MODES,
    CONTACT_MODES,
    NUMBER,
    QUESTION_KINDS,
    RATING,
    Quiz,
)
from orbitflow_plugins.quiz.public import PublicQuiz, page_context
from orbitflow_plugins.quiz.services import QuizError
from orbitflow_plugins.quiz.stats import quiz_stats
from orbitflow_plugins.quiz.submissions import Tracking
from orbitflow_plugins.quiz.tokens import issue_token

OPTION_ROWS_SPARE = 4
MAX_OPTION_ROWS = definition.MAX_OPTIONS + OPTION_ROWS_SPARE


def company_of(request: Request) -> Company:
    return request.dbsession.get(Company, request.identity.company_id)


def quiz_or_404(request: Request) -> Quiz:
    quiz = services.load_quiz(request.dbsession, request.matchdict["quiz_id"])
    if quiz is None:
        raise HTTPNotFound()
    return quiz


def public_url(request: Request, company: Company, quiz: Quiz) -> str:
    return request.route_url("quiz_public", subscription_id=company.subscription_id, slug=quiz.slug)


def embed_snippet(url: str, title: str) -> str:
    from markupsafe import escape

    return (
        f'<iframe src="{escape(url)}" title="{escape(title)}" width="100%" height="720" '
        'style="border:0;max-width:640px" loading="lazy"></iframe>'
    )


def _edit_url(request: Request, quiz: Quiz, anchor: str = "") -> str:
    return request.route_url("quiz_edit", quiz_id=quiz.id) + (f"#{anchor}" if anchor else "")


# -- list and create --------------------------------------------------------------------


@view_config(route_name="quizzes", request_method="GET", renderer="quiz_list.jinja2", permission="quizzes.view")
def quiz_list(request: Request):
    session = request.dbsession
    show = request.params.get("show", "current")
    query = select(Quiz).order_by(Quiz.updated_at.desc(), Quiz.id.desc())
    query = query.where(Quiz.status == ARCHIVED) if show == "archived" else query.where(Quiz.status != ARCHIVED)
    quizzes = session.scalars(query).all()
    company = company_of(request)
    return {
        "quizzes": quizzes,
        "stats": quiz_stats(session, [quiz.id for quiz in quizzes]),
        "show": show,
        "used": services.counted_quizzes(session, company.id),
        "quota": company.max_quizzes,
        "public_urls": {quiz.id: public_url(request, company, quiz) for quiz in quizzes},
    }


@view_config(route_name="quiz_new", request_method="GET", renderer="quiz_new.jinja2", permission="quizzes.edit")
def quiz_new_form(request: Request):
    company = company_of(request)
    quota_error = None
    try:
        services.check_quota(request.dbsession, company)
    except QuizError as error:
        quota_error = error.fields["quota"]
    return {"form": {"title": "", "slug": ""}, "errors": {}, "quota_error": quota_error}


@view_config(route_name="quiz_new", request_method="POST", renderer="quiz_new.jinja2", permission="quizzes.edit")
def quiz_create(request: Request):
    company = company_of(request)
    form = {"title": request.POST.get("title", ""), "slug": request.POST.get("slug", "")}
    try:
        quiz = services.create_quiz(request.dbsession, company, form, actor_id=request.identity.user_id)
    except QuizError as error:
        request.tm.doom()
        request.response.status_int = 400
        quota_error = error.fields.pop("quota", None)
        return {"form": form, "errors": error.fields, "quota_error": quota_error}
    audit(request, "quiz.create", quiz, changes=diff({}, services.snapshot(quiz)))
    flash(request, f"Quiz “{quiz.title}” created. Add its questions next.")
    return HTTPSeeOther(_edit_url(request, quiz))


@view_config(route_name="quiz_slug_check", request_method="GET", renderer="json", permission="quizzes.edit")
def slug_check(request: Request):
    exclude_id = parse_id(request.params.get("quiz_id"))
    return services.slug_status(
        request.dbsession, request.identity.company_id, request.params.get("slug", ""), exclude_id
    )


# -- the builder page -------------------------------------------------------------------


def assignment_form(quiz: Quiz) -> dict[str, Any]:
    return {
        "mode": quiz.assign_mode,
        "users": [str(a.user_id) for a in quiz.assignees if a.outcome_id is None],
        "outcomes": {str(a.outcome_id): str(a.user_id) for a in quiz.assignees if a.outcome_id is not None},
    }


def builder_context(
    request: Request,
    quiz: Quiz,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    rule_form: dict[str, Any] | None = None,
    rule_errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    company = company_of(request)
    url = public_url(request, company, quiz)
    return {
        "quiz": quiz,
        "form": form if form is not None else services.snapshot(quiz),
        "errors": errors or {},
        "kinds": QUESTION_KINDS,
        "contact_modes": CONTACT_MODES,
        "missing": definition.missing_for_publish(quiz, company.privacy_policy_url),
        "public_url": url,
        "embed": embed_snippet(url, quiz.title),
        "frame_ancestors": company.frame_ancestors,
        "privacy_policy_url": company.privacy_policy_url,
        "range_label": definition.score_range_label,
        "outcome_form": {},
        "outcome_errors": {},
        "stats": quiz_stats(request.dbsession, [quiz.id]).get(quiz.id),
        "assign_modes": ASSIGN_MODES,
        "assignable": assignment.assignable_users(request.dbsession, quiz.company_id),
        "rule_form": rule_form if rule_form is not None else assignment_form(quiz),
        "rule_errors": rule_errors or {},
    }


@view_config(route_name="quiz_edit", request_method="GET", renderer="quiz_builder.jinja2", permission="quizzes.view")
def quiz_builder(request: Request):
    return builder_context(request, quiz_or_404(request))


@view_config(
    route_name="quiz_settings_save", request_method="POST", renderer="quiz_builder.jinja2", permission="quizzes.edit"
)
def quiz_settings_save(request: Request):
    quiz = quiz_or_404(request)
    company = company_of(request)
    form = {name: request.POST.get(name, "") for name in definition.SETTINGS_FIELDS}
    form["consent_enabled"] = "consent_enabled" in request.POST
    form["thank_you_email"] = "thank_you_email" in request.POST
    before = services.snapshot(quiz)
    try:
        services.update_settings(request.dbsession, company, quiz, form)
    except QuizError as error:
        request.tm.doom()
        request.response.status_int = 400
        return builder_context(request, quiz, form=form, errors=error.fields)
    changes = diff(before, services.snapshot(quiz))
    if changes:
        audit(request, "quiz.update", quiz, changes=changes)
        flash(request, "Quiz settings saved.")
    else:
        flash(request, "Nothing changed.", "info")
    return HTTPSeeOther(_edit_url(request, quiz, "settings"))


@view_config(
    route_name="quiz_assignment_save", request_method="POST", renderer="quiz_builder.jinja2", permission="quizzes.edit"
)
def quiz_assignment_save(request: Request):
    quiz = quiz_or_404(request)
    mode, users, outcomes = assignment.read_form(request.POST)
    try:
        changes = assignment.change_rule(request.dbsession, quiz, mode, users, outcomes)
    except QuizError as error:
        request.tm.doom()
        request.response.status_int = 400
        rule_form = {"mode": mode, "users": list(users), "outcomes": dict(outcomes)}
        return builder_context(request, quiz, rule_form=rule_form, rule_errors=error.fields)
    if changes:
        audit(request, "quiz.assignment", quiz, changes=changes)
        flash(request, "Lead assignment saved.")
    else:
        flash(request, "Nothing changed.", "info")
    return HTTPSeeOther(_edit_url(request, quiz, "assignment"))


# -- questions --------------------------------------------------------------------------


def read_question_form(post) -> tuple[dict[str, Any], list[dict[str, Any]], dict[int, int]]:
    """The question's fields, its non-blank option rows, and option index -> form row."""
    kind = post.get("kind", "")
    data = {
        "kind": kind,
        "text": post.get("text", ""),
        "help_text": post.get("help_text", ""),
        "required": "required" in post,
        "scored": "scored" in post,
        "min_value": post.get("min_value", "") if kind == NUMBER else "",
        "max_value": post.get("scale", "") if kind == RATING else post.get("max_value", ""),
    }
    rows: list[dict[str, Any]] = []
    row_numbers: dict[int, int] = {}
    for number in range(1, MAX_OPTION_ROWS + 1):
        label = post.get(f"option_label_{number}")
        if label is None:
            continue
        if not label.strip():
            continue
        rows.append(
            {"label": label, "score": post.get(f"option_score_{number}", ""), "id": post.get(f"option_id_{number}")}
        )
        row_numbers[len(rows)] = number
    return data, rows, row_numbers


def _row_errors(errors: dict[str, str], row_numbers: dict[int, int]) -> dict[str, str]:
    mapped = {}
    for key, message in errors.items():
        if key.startswith("option_") and key[7:].isdigit():
            key = f"option_{row_numbers.get(int(key[7:]), key[7:])}"
        mapped[key] = message
    return mapped


def question_form_context(
    request: Request, quiz: Quiz, question, form: dict[str, Any], rows: list[dict[str, Any]], errors: dict[str, str]
) -> dict[str, Any]:
    spare = [{"label": "", "score": "", "id": ""} for _ in range(OPTION_ROWS_SPARE)]
    if len(rows) < 2:
        spare += [{"label": "", "score": "", "id": ""} for _ in range(2 - len(rows))]
    return {
        "quiz": quiz,
        "question": question,
        "form": form,
        "option_rows": list(rows) + spare,
        "errors": errors,
        "kinds": QUESTION_KINDS,
    }


@view_config(
    route_name="quiz_question_new", request_method="GET", renderer="quiz_question.jinja2", permission="quizzes.edit"
)
def question_new_form(request: Request):
    quiz = quiz_or_404(request)
    kind = request.params.get("kind", "single")
    form = {
        "kind": kind if kind in QUESTION_KINDS else "single",
        "text": request.params.get("text", ""),
        "required": True,
    }
    return question_form_context(request, quiz, None, form, [], {})


@view_config(
    route_name="quiz_question_new", request_method="POST", renderer="quiz_question.jinja2", permission="quizzes.edit"
)
def question_create(request: Request):
    quiz = quiz_or_404(request)
    data, rows, row_numbers = read_question_form(request.POST)
    try:
        question = services.add_question(request.dbsession, quiz, data, rows)
    except QuizError as error:
        request.tm.doom()
        request.response.status_int = 400
        form = {**data, "scale": request.POST.get("scale", "")}
        return question_form_context(request, quiz, None, form, rows, _row_errors(error.fields, row_numbers))
    audit(
        request,
        "quiz.question.create",
        quiz,
        changes={"question_id": {"from": None, "to": question.id}, **diff({}, services.question_values(question))},
    )
    flash(request, "Question added.")
    return HTTPSeeOther(_edit_url(request, quiz, "questions"))


def _question_or_404(request: Request, quiz: Quiz):
    question_id = path_id(request, "question_id")
    question = next((q for q in quiz.questions if q.id == question_id), None)
    if question is None:
        raise HTTPNotFound()
    return question


def _question_form(question) -> dict[str, Any]:
    values = services.question_values(question)
    values["scale"] = question.rating_scale if question.kind == RATING else 5
    return values


@view_config(
    route_name="quiz_question", request_method="GET", renderer="quiz_question.jinja2", permission="quizzes.edit"
)
def question_edit_form(request: Request):
    quiz = quiz_or_404(request)
    question = _question_or_404(request, quiz)
    rows = [{"label": o.label, "score": o.score, "id": o.id} for o in question.options]
    return question_form_context(request, quiz, question, _question_form(question), rows, {})


@view_config(
    route_name="quiz_question", request_method="POST", renderer="quiz_question.jinja2", permission="quizzes.edit"
)
def question_update(request: Request):
    quiz = quiz_or_404(request)
    question = _question_or_404(request, quiz)
    data, rows, row_numbers = read_question_form(request.POST)
    if quiz.status == "published" and data["kind"] != question.kind:
        errors = {"kind": "Unpublish the quiz before changing a question's kind: visitors may be answering it."}
        request.tm.doom()
        request.response.status_int = 400
        return question_form_context(
            request, quiz, question, {**data, "scale": request.POST.get("scale", "")}, rows, errors
        )
    try:
        changes = services.update_question(request.dbsession, quiz, question, data, rows)
    except QuizError as error:
        request.tm.doom()
        request.response.status_int = 400
        form = {**data, "scale": request.POST.get("scale", "")}
        return question_form_context(request, quiz, question, form, rows, _row_errors(error.fields, row_numbers))
    if changes:
        audit(
            request,
            "quiz.question.update",
            quiz,
            changes={"question_id": {"from": question.id, "to": question.id}, **changes},
        )
    flash(request, "Question saved." if changes else "Nothing changed.", "success" if changes else "info")
    return HTTPSeeOther(_edit_url(request, quiz, "questions"))


@view_config(route_name="quiz_question_move", request_method="POST", permission="quizzes.edit")
def question_move(request: Request):
    quiz = quiz_or_404(request)
    question = _question_or_404(request, quiz)
    direction = request.POST.get("direction", "")
    before = question.position
    if services.move_question(request.dbsession, quiz, question, direction):
        audit(
            request,
            "quiz.question.move",
            quiz,
            changes={
                "question_id": {"from": question.id, "to": question.id},
                "position": {"from": before, "to": question.position},
            },
        )
    return HTTPSeeOther(_edit_url(request, quiz, f"question-{question.id}"))


@view_config(route_name="quiz_question_delete", request_method="POST", permission="quizzes.edit")
def question_delete(request: Request):
    quiz = quiz_or_404(request)
    question = _question_or_404(request, quiz)
    values = services.question_values(question)
    question_id = question.id
    try:
        services.delete_question(request.dbsession, quiz, question)
    except QuizError as error:
        request.tm.doom()
        flash(request, next(iter(error.fields.values())), "error")
        return HTTPSeeOther(_edit_url(request, quiz, "questions"))
    audit(
        request,
        "quiz.question.delete",
        quiz,
        changes={"question_id": {"from": question_id, "to": None}, **diff(values, {})},
    )
    flash(request, "Question deleted.")
    return HTTPSeeOther(_edit_url(request, quiz, "questions"))


# -- outcomes ---------------------------------------------------------------------------


def _outcome_form(post) -> dict[str, Any]:
    return {name: post.get(name, "") for name in ("title", "description", "min_score", "max_score")}


@view_config(
    route_name="quiz_outcome_add", request_method="POST", renderer="quiz_builder.jinja2", permission="quizzes.edit"
)
def outcome_add(request: Request):
    quiz = quiz_or_404(request)
    form = _outcome_form(request.POST)
    try:
        outcome = services.add_outcome(request.dbsession, quiz, form)
    except QuizError as error:
        request.tm.doom()
        request.response.status_int = 400
        context = builder_context(request, quiz)
        context.update(outcome_form=form, outcome_errors=error.fields)
        return context
    audit(
        request, "quiz.outcome.create", quiz, changes={"outcome_id": {"from": None, "to": outcome.id}, **diff({}, form)}
    )
    flash(request, "Outcome added.")
    return HTTPSeeOther(_edit_url(request, quiz, "outcomes"))


def _outcome_or_404(request: Request, quiz: Quiz):
    outcome_id = path_id(request, "outcome_id")
    outcome = next((o for o in quiz.outcomes if o.id == outcome_id), None)
    if outcome is None:
        raise HTTPNotFound()
    return outcome


@view_config(route_name="quiz_outcome", request_method="GET", renderer="quiz_outcome.jinja2", permission="quizzes.edit")
def outcome_edit_form(request: Request):
    quiz = quiz_or_404(request)
    outcome = _outcome_or_404(request, quiz)
    form = {
        "title": outcome.title,
        "description": outcome.description,
        "min_score": "" if outcome.min_score is None else outcome.min_score,
        "max_score": "" if outcome.max_score is None else outcome.max_score,
    }
    return {"quiz": quiz, "outcome": outcome, "form": form, "errors": {}}


@view_config(
    route_name="quiz_outcome", request_method="POST", renderer="quiz_outcome.jinja2", permission="quizzes.edit"
)
def outcome_update(request: Request):
    quiz = quiz_or_404(request)
    outcome = _outcome_or_404(request, quiz)
    form = _outcome_form(request.POST)
    before = {
        "title": outcome.title,
        "description": outcome.description,
        "min_score": outcome.min_score,
        "max_score": outcome.max_score,
    }
    try:
        changed = services.update_outcome(request.dbsession, quiz, outcome, form)
    except QuizError as error:
        request.tm.doom()
        request.response.status_int = 400
        return {"quiz": quiz, "outcome": outcome, "form": form, "errors": error.fields}
    if changed:
        after = {**before, **changed}
        audit(
            request,
            "quiz.outcome.update",
            quiz,
            changes={"outcome_id": {"from": outcome.id, "to": outcome.id}, **diff(before, after)},
        )
    flash(request, "Outcome saved." if changed else "Nothing changed.", "success" if changed else "info")
    return HTTPSeeOther(_edit_url(request, quiz, "outcomes"))


@view_config(route_name="quiz_outcome_delete", request_method="POST", permission="quizzes.edit")
def outcome_delete(request: Request):
    quiz = quiz_or_404(request)
    outcome = _outcome_or_404(request, quiz)
    outcome_id, title = outcome.id, outcome.title
    services.delete_outcome(request.dbsession, quiz, outcome)
    audit(
        request,
        "quiz.outcome.delete",
        quiz,
        changes={"outcome_id": {"from": outcome_id, "to": None}, "title": {"from": title, "to": None}},
    )
    flash(request, "Outcome deleted.")
    return HTTPSeeOther(_edit_url(request, quiz, "outcomes"))


# -- preview, states, duplicate ---------------------------------------------------------


def _preview_context(request: Request, quiz: Quiz, **kw: Any) -> dict[str, Any]:
    company = company_of(request)
    context = page_context(
        request,
        PublicQuiz(company, quiz),
        token=issue_token(get_settings(request.registry).auth_secret, quiz.id),
        tracking=Tracking(),
        preview=True,
        submit_url=request.route_url("quiz_preview", quiz_id=quiz.id),
        **kw,
    )
    # The preview is a signed-in page: it posts with the user's CSRF token.
    from pyramid.csrf import get_csrf_token

    context["csrf_token"] = get_csrf_token(request)
    context["identity"] = request.identity
    return context


@view_config(route_name="quiz_preview", request_method="GET", renderer="quiz_public.jinja2", permission="quizzes.view")
def quiz_preview(request: Request):
    return _preview_context(request, quiz_or_404(request))


@view_config(route_name="quiz_preview", request_method="POST", renderer="quiz_public.jinja2", permission="quizzes.view")
def quiz_preview_submit(request: Request):
    """Validate and score the answers exactly as the public page would; store nothing."""
    quiz = quiz_or_404(request)
    result = answers_module.read_answers(quiz, request.POST, phone_region=request.company_locale.phone_region)
    request.tm.doom()
    if not result.ok:
        request.response.status_int = 400
        return _preview_context(request, quiz, values=result.values, errors=result.errors)
    context = _preview_context(request, quiz, values=result.values)
    context["preview_result"] = {
        "score": result.score,
        "outcome": result.outcome,
        "answers": result.answers,
        "contact": result.contact,
    }
    return context


STATE_ACTIONS = {
    "publish": ("quizzes.publish", "published"),
    "unpublish": ("quizzes.publish", "unpublished"),
    "archive": ("quizzes.publish", "archived"),
    "restore": ("quizzes.publish", "restored"),
}


@view_config(route_name="quiz_state", request_method="POST", permission="quizzes.publish")
def quiz_state(request: Request):
    quiz = quiz_or_404(request)
    company = company_of(request)
    action = request.matchdict["action"]
    before = quiz.status
    try:
        if action == "publish":
            services.publish(request.dbsession, company, quiz)
        elif action == "unpublish":
            services.unpublish(request.dbsession, quiz)
        elif action == "archive":
            services.archive(request.dbsession, quiz)
        else:
            services.restore(request.dbsession, company, quiz)
    except QuizError as error:
        request.tm.doom()
        message = " ".join(error.missing) if error.missing else " ".join(error.fields.values())
        prefix = "Not published yet: " if error.missing else ""
        flash(request, prefix + message, "error")
        return HTTPSeeOther(_edit_url(request, quiz))
    if quiz.status != before:
        audit(request, f"quiz.{action}", quiz, changes={"status": {"from": before, "to": quiz.status}})
    flash(request, f"“{quiz.title}” is {STATE_ACTIONS[action][1]}.")
    if action == "archive":
        return HTTPSeeOther(request.route_url("quizzes"))
    return HTTPSeeOther(_edit_url(request, quiz))


@view_config(route_name="quiz_duplicate", request_method="POST", permission="quizzes.edit")
def quiz_duplicate(request: Request):
    quiz = quiz_or_404(request)
    company = company_of(request)
    try:
        copy = services.duplicate(request.dbsession, company, quiz, actor_id=request.identity.user_id)
    except QuizError as error:
        request.tm.doom()
        flash(request, " ".join(error.fields.values()), "error")
        return HTTPSeeOther(_edit_url(request, quiz))
    audit(
        request,
        "quiz.duplicate",
        copy,
        changes={"duplicated_from": {"from": None, "to": quiz.id}, **diff({}, services.snapshot(copy))},
    )
    flash(request, f"Copied to “{copy.title}”, a draft at /{copy.slug}.")
    return HTTPSeeOther(_edit_url(request, copy))
