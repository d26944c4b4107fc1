"""JSON API: /api/v1/quizzes (list, create), /api/v1/quizzes/{id} (get, update) and
/api/v1/quizzes/{id}/publish."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import or_, select

from orbitflow.api.helpers import iso, json_body, paginate, paging_parameters
from orbitflow.api.openapi import api_operation, api_schema, id_schema, int_schema, list_of, ref
from orbitflow.audit.services import audit, diff
from orbitflow.web.errors import APIError, invalid_fields
from orbitflow_plugins.quiz import assignment, definition, services
from orbitflow_plugins.quiz.builder import company_of, public_url
from orbitflow_plugins.quiz.models import ASSIGN_MODES, CONTACT_MODES, QUESTION_KINDS, STATUSES, Quiz
from orbitflow_plugins.quiz.services import QuizError
from orbitflow_plugins.quiz.stats import QuizStats, quiz_stats

CONTACT_FIELDS = ("name", "email", "phone")
# Users a round robin may name at once (more than any team takes turns among).
MAX_ASSIGNEES = 1000
OPTION_SCHEMA = api_schema(
    "QuizOption",
    {
        "type": "object",
        "required": ["label"],
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "label": {"type": "string", "minLength": 1, "maxLength": 200},
            "score": int_schema(-definition.SCORE_LIMIT, definition.SCORE_LIMIT, default=0),
        },
    },
)
QUESTION_SCHEMA = api_schema(
    "QuizQuestion",
    {
        "type": "object",
        "required": ["kind", "text"],
        "properties": {
            "id": id_schema(description="Send it back to keep a question; omit it to add one."),
            "kind": {"type": "string", "enum": list(QUESTION_KINDS)},
            "text": {"type": "string", "minLength": 1, "maxLength": 500},
            "help_text": {"type": "string", "maxLength": 500},
            "required": {"type": "boolean", "default": False},
            "scored": {"type": "boolean", "description": "number/rating: add the answer to the score"},
            "min_value": {"type": "string", "nullable": True, "description": "number: smallest allowed"},
            "max_value": {"type": "string", "nullable": True, "description": "number: largest; rating: scale 3-10"},
            "options": {
                "type": "array",
                "maxItems": definition.MAX_OPTIONS,
                "items": OPTION_SCHEMA,
                "description": "single/multiple: 2 to 50",
            },
        },
    },
)
OUTCOME_SCHEMA = api_schema(
    "QuizOutcome",
    {
        "type": "object",
        "required": ["title"],
        "properties": {
            "id": id_schema(),
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": {"type": "string", "maxLength": 5000},
            "min_score": int_schema(-definition.SCORE_LIMIT, definition.SCORE_LIMIT, nullable=True),
            "max_score": int_schema(-definition.SCORE_LIMIT, definition.SCORE_LIMIT, nullable=True),
        },
    },
)
ASSIGNMENT_SCHEMA = api_schema(
    "QuizAssignment",
    {
        "type": "object",
        "description": "Who gets the leads the quiz creates: no one (`none`), the `user_ids` in turn (`round_robin`), "
        "or each outcome's user (`outcome`; an outcome left out stays unassigned). Users must be active users of "
        "the company who work leads (not viewers), outcomes the quiz's own.",
        "required": ["mode"],
        "additionalProperties": False,
        "properties": {
            "mode": {"type": "string", "enum": list(ASSIGN_MODES)},
            "user_ids": {
                "type": "array",
                "items": id_schema(),
                "maxItems": MAX_ASSIGNEES,
                "description": "round_robin: the users in turn order",
            },
            "by_outcome": {
                "type": "array",
                "maxItems": definition.MAX_OUTCOMES,
                "description": "outcome: one user per outcome",
                "items": {
                    "type": "object",
                    "required": ["outcome_id", "user_id"],
                    "additionalProperties": False,
                    "properties": {"outcome_id": id_schema(), "user_id": id_schema()},
                },
            },
        },
    },
)
_SETTINGS_PROPERTIES = {
    "title": {"type": "string", "minLength": 1, "maxLength": 200},
    "slug": {"type": "string", "pattern": definition.SLUG_RE.pattern, "maxLength": 80, "example": "find-your-plan"},
    "intro": {"type": "string", "maxLength": 5000},
    "brand_color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$", "example": "#4f46e5"},
    "logo_url": {"type": "string", "nullable": True, "format": "uri", "maxLength": 500},
    "contact": {
        "type": "object",
        "properties": {name: {"type": "string", "enum": list(CONTACT_MODES)} for name in CONTACT_FIELDS},
        "additionalProperties": False,
    },
    "consent_enabled": {"type": "boolean"},
    "consent_text": {"type": "string", "maxLength": 300},
    "thank_you_message": {"type": "string", "maxLength": 5000},
    "redirect_url": {"type": "string", "nullable": True, "format": "uri", "maxLength": 1000},
    "thank_you_email": {"type": "boolean", "description": "E-mail the visitor the thank-you message (off by default)"},
    "questions": {"type": "array", "maxItems": definition.MAX_QUESTIONS, "items": QUESTION_SCHEMA},
    "outcomes": {"type": "array", "maxItems": definition.MAX_OUTCOMES, "items": OUTCOME_SCHEMA},
}
QUIZ_INPUT = api_schema("QuizInput", {"type": "object", "properties": _SETTINGS_PROPERTIES})
QUIZ_SCHEMA = api_schema(
    "Quiz",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            **_SETTINGS_PROPERTIES,
            "status": {"type": "string", "enum": list(STATUSES)},
            "public_url": {"type": "string"},
            "assignment": ASSIGNMENT_SCHEMA,
            "stats": {
                "type": "object",
                "properties": {
                    "views": {"type": "integer"},
                    "completions": {"type": "integer"},
                    "leads": {"type": "integer"},
                    "conversion_rate": {"type": "number", "nullable": True, "description": "percent"},
                },
            },
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "published_at": {"type": "string", "format": "date-time", "nullable": True},
        },
    },
)
QUIZ_PATCH = api_schema(
    "QuizPatch",
    {
        "type": "object",
        "properties": {
            **_SETTINGS_PROPERTIES,
            "status": {
                "type": "string",
                "enum": list(STATUSES),
                "description": "needs quizzes.publish; published runs the publish checks",
            },
            "assignment": ASSIGNMENT_SCHEMA,
        },
    },
)
JSON = "application/json"


def _number(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def serialise(request: Request, quiz: Quiz, stats: QuizStats | None, company, *, full: bool) -> dict[str, Any]:
    stats = stats or QuizStats()
    data: dict[str, Any] = {
        "id": quiz.id,
        "title": quiz.title,
        "slug": quiz.slug,
        "status": quiz.status,
        "public_url": public_url(request, company, quiz),
        "brand_color": quiz.brand_color,
        "stats": {
            "views": stats.views,
            "completions": stats.completions,
            "leads": stats.leads,
            "conversion_rate": stats.conversion,
        },
        "created_at": iso(quiz.created_at),
        "updated_at": iso(quiz.updated_at),
        "published_at": iso(quiz.published_at),
    }
    if full:
        data.update(
            intro=quiz.intro,
            logo_url=quiz.logo_url,
            contact={name: quiz.contact_mode(name) for name in ("name", "email", "phone")},
            consent_enabled=quiz.consent_enabled,
            consent_text=quiz.consent_text,
            thank_you_message=quiz.thank_you_message,
            redirect_url=quiz.redirect_url,
            thank_you_email=quiz.thank_you_email,
            questions=[
                {
                    "id": q.id,
                    "kind": q.kind,
                    "text": q.text,
                    "help_text": q.help_text,
                    "required": q.required,
                    "scored": q.scored,
                    "min_value": _number(q.min_value),
                    "max_value": _number(q.max_value),
                    "options": [{"id": o.id, "label": o.label, "score": o.score} for o in q.options],
                }
                for q in quiz.questions
            ],
            outcomes=[
                {
                    "id": o.id,
                    "title": o.title,
                    "description": o.description,
                    "min_score": o.min_score,
                    "max_score": o.max_score,
                }
                for o in quiz.outcomes
            ],
            assignment=assignment_json(quiz),
        )
    return data


def assignment_json(quiz: Quiz) -> dict[str, Any]:
    rule = assignment.Rule.of(quiz)
    return {
        "mode": rule.mode,
        "user_ids": list(rule.user_ids),
        "by_outcome": [{"outcome_id": outcome_id, "user_id": user_id} for outcome_id, user_id in rule.by_outcome],
    }


def _set_assignment(request: Request, quiz: Quiz, body: dict[str, Any]) -> None:
    """Replace the quiz's rule as the builder's card does (same checks, same audit entry);
    the page's field names are answered as the body's."""
    by_outcome: dict[int, int] = {}
    for pair in body.get("by_outcome") or []:
        if pair["outcome_id"] in by_outcome:
            raise invalid_fields({"assignment.by_outcome": "Choose one user per outcome."})
        by_outcome[pair["outcome_id"]] = pair["user_id"]
    try:
        changes = assignment.change_rule(request.dbsession, quiz, body["mode"], body.get("user_ids") or [], by_outcome)
    except QuizError as error:
        fields = {f"assignment.{_ASSIGNMENT_FIELDS.get(key, 'by_outcome')}": text for key, text in error.fields.items()}
        raise invalid_fields(fields) from None
    if changes:
        audit(request, "quiz.assignment", quiz, changes=changes)


# The builder form's field names (outcome_<id> aside) as the API's.
_ASSIGNMENT_FIELDS = {"mode": "mode", "users": "user_ids", "outcomes": "by_outcome"}


def _settings_input(body: dict[str, Any]) -> dict[str, Any]:
    data = {key: body[key] for key in definition.SETTINGS_FIELDS if key in body}
    contact = body.get("contact") or {}
    data.update({f"contact_{name}": contact[name] for name in CONTACT_FIELDS if name in contact})
    return data


def _quiz_or_404(request: Request) -> Quiz:
    quiz = services.load_quiz(request.dbsession, request.matchdict["quiz_id"])
    if quiz is None:
        raise APIError(404, "No such quiz.")
    return quiz


def _one(request: Request, quiz: Quiz) -> dict[str, Any]:
    company = company_of(request)
    return serialise(request, quiz, quiz_stats(request.dbsession, [quiz.id]).get(quiz.id), company, full=True)


def _invalid(error: QuizError) -> APIError:
    if "quota" in error.fields:
        return APIError(409, error.fields["quota"], {"quota": error.fields["quota"]}, code="quota_exceeded")
    if error.missing:
        fields = {f"missing.{n}": sentence for n, sentence in enumerate(error.missing, start=1)}
        return APIError(422, "The quiz is not ready to publish: " + " ".join(error.missing), fields)
    return APIError(422, "Some fields are not valid.", error.fields)


@api_operation(
    "api_quizzes",
    "/api/v1/quizzes",
    "get",
    summary="List quizzes",
    description="Newest first, with views, completions, leads and conversion rate. Archived ones with status=archived.",
    parameters=[
        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "search in title and slug"},
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(STATUSES)}},
        *paging_parameters(),
    ],
    responses={"200": {"description": "A page of quizzes", "content": {JSON: {"schema": list_of("Quiz")}}}},
)
@view_config(route_name="api_quizzes", request_method="GET", renderer="json", permission="quizzes.view")
def api_list(request: Request):
    query = select(Quiz).order_by(Quiz.created_at.desc(), Quiz.id.desc())
    status = request.params.get("status")
    if status:
        if status not in STATUSES:
            raise APIError(400, f"status must be one of {', '.join(STATUSES)}.", {"status": "unknown status"})
        query = query.where(Quiz.status == status)
    else:
        query = query.where(Quiz.status != "archived")
    search = (request.params.get("q") or "").strip()
    if search:
        pattern = f"%{search[:100]}%"
        query = query.where(or_(Quiz.title.ilike(pattern), Quiz.slug.ilike(pattern)))
    page = paginate(request.dbsession, query, request)
    stats = quiz_stats(request.dbsession, [quiz.id for quiz in page.items])
    company = company_of(request)
    return page.as_json(lambda quiz: serialise(request, quiz, stats.get(quiz.id), company, full=False))


@api_operation(
    "api_quizzes",
    "/api/v1/quizzes",
    "post",
    summary="Create a quiz",
    description="A draft; questions and outcomes may come along. 409 when the plan's quiz quota is used up.",
    requestBody={"required": True, "content": {JSON: {"schema": ref("QuizInput")}}},
    responses={"201": {"description": "Created", "content": {JSON: {"schema": ref("Quiz")}}}},
)
@view_config(route_name="api_quizzes", request_method="POST", renderer="json", permission="quizzes.edit")
def api_create(request: Request):
    body = json_body(request)
    company = company_of(request)
    data = _settings_input(body)
    try:
        quiz = services.create_quiz(request.dbsession, company, data, actor_id=request.identity.user_id or None)
        if "questions" in body or "outcomes" in body:
            services.replace_definition(request.dbsession, company, quiz, body.get("questions"), body.get("outcomes"))
    except QuizError as error:
        raise _invalid(error) from None
    audit(request, "quiz.create", quiz, changes=diff({}, services.snapshot(quiz)))
    request.response.status_int = 201
    return _one(request, services.load_quiz(request.dbsession, quiz.id))


@api_operation(
    "api_quiz",
    "/api/v1/quizzes/{quiz_id}",
    "get",
    summary="Get a quiz with its questions and outcomes",
    parameters=[{"name": "quiz_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
    responses={"200": {"description": "The quiz", "content": {JSON: {"schema": ref("Quiz")}}}},
)
@view_config(route_name="api_quiz", request_method="GET", renderer="json", permission="quizzes.view")
def api_get(request: Request):
    return _one(request, _quiz_or_404(request))


@api_operation(
    "api_quiz",
    "/api/v1/quizzes/{quiz_id}",
    "patch",
    summary="Change a quiz",
    description=(
        "Only the fields sent change. `questions` and `outcomes` replace the lists: items with an `id` keep "
        "that question or outcome, items without are added, those left out are removed. `assignment` replaces "
        "the lead assignment rule, checked and audited (`quiz.assignment`) as on the builder page; it is applied "
        "after the questions and outcomes."
    ),
    parameters=[{"name": "quiz_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
    requestBody={"required": True, "content": {JSON: {"schema": ref("QuizPatch")}}},
    responses={"200": {"description": "The changed quiz", "content": {JSON: {"schema": ref("Quiz")}}}},
)
@view_config(route_name="api_quiz", request_method="PATCH", renderer="json", permission="quizzes.edit")
def api_update(request: Request):
    body = json_body(request)
    quiz = _quiz_or_404(request)
    company = company_of(request)
    status = body.get("status")
    if status is not None and not request.has_permission("quizzes.publish"):
        raise APIError(403, "Changing the status needs the quizzes.publish permission.")
    before = services.snapshot(quiz)
    try:
        # Check the lists before changing the settings, so a bad request changes nothing.
        if "questions" in body or "outcomes" in body:
            services.replace_definition(
                request.dbsession, company, quiz, body.get("questions"), body.get("outcomes"), check_only=True
            )
        services.update_settings(request.dbsession, company, quiz, _settings_input(body), partial=True)
        if "questions" in body or "outcomes" in body:
            services.replace_definition(request.dbsession, company, quiz, body.get("questions"), body.get("outcomes"))
        if status is not None:
            services.set_status(request.dbsession, company, quiz, status)
    except QuizError as error:
        raise _invalid(error) from None
    if "assignment" in body:
        _set_assignment(request, quiz, body["assignment"])
    changes = diff(before, services.snapshot(quiz))
    for key in ("questions", "outcomes"):
        if key in body:
            changes[key] = {"from": None, "to": f"{len(body.get(key) or [])} {key}"}
    if changes:
        action = _status_action(before["status"], quiz.status) if "status" in changes else "quiz.update"
        audit(request, action, quiz, changes=changes)
    return _one(request, services.load_quiz(request.dbsession, quiz.id))


def _status_action(before: str, after: str) -> str:
    return {
        "published": "quiz.publish",
        "unpublished": "quiz.unpublish",
        "archived": "quiz.archive",
    }.get(after, "quiz.restore" if before == "archived" else "quiz.update")


@api_operation(
    "api_quiz_publish",
    "/api/v1/quizzes/{quiz_id}/publish",
    "post",
    summary="Publish a quiz",
    description="422 lists what is missing (`fields` missing.1, missing.2, ...).",
    parameters=[{"name": "quiz_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
    responses={"200": {"description": "The published quiz", "content": {JSON: {"schema": ref("Quiz")}}}},
)
@view_config(route_name="api_quiz_publish", request_method="POST", renderer="json", permission="quizzes.publish")
def api_publish(request: Request):
    quiz = _quiz_or_404(request)
    company = company_of(request)
    before = quiz.status
    try:
        services.publish(request.dbsession, company, quiz)
    except QuizError as error:
        raise _invalid(error) from None
    if quiz.status != before:
        audit(request, "quiz.publish", quiz, changes={"status": {"from": before, "to": quiz.status}})
    return _one(request, quiz)
