"""Building quizzes: create, change, reorder, duplicate, publish, archive.

Functions take a session bound to the quiz's company and plain values, validate
everything before changing anything, and raise :class:`QuizError` (``fields``: field ->
message) on bad input. Audit entries are the views' business: they know the actor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from orbitflow.audit.services import diff
from orbitflow.models.meta import utcnow
from orbitflow.tenants.models import Company
from orbitflow.web.inputs import NO_ROW, parse_id
from orbitflow_plugins.quiz import definition
from orbitflow_plugins.quiz.models import (
    ARCHIVED,
    DRAFT,
    PUBLISHED,
    UNPUBLISHED,
    Quiz,
    QuizOption,
    QuizOutcome,
    QuizQuestion,
)


class QuizError(ValueError):
    def __init__(self, fields: dict[str, str], missing: list[str] | None = None):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()) or "; ".join(missing or []))
        self.fields = fields
        self.missing = missing or []


def snapshot(quiz: Quiz) -> dict[str, Any]:
    values = {name: getattr(quiz, name) for name in definition.SETTINGS_FIELDS}
    values["status"] = quiz.status
    return values


def load_quiz(session: Session, quiz_id: Any) -> Quiz | None:
    """The session's company's quiz with its questions, options and outcomes, or None."""
    quiz_id = parse_id(quiz_id)
    if quiz_id is None or quiz_id == NO_ROW:
        return None
    return session.scalars(
        select(Quiz)
        .where(Quiz.id == quiz_id)
        .options(
            selectinload(Quiz.questions).selectinload(QuizQuestion.options),
            selectinload(Quiz.outcomes),
            selectinload(Quiz.assignees),
        )
    ).first()


# -- quota and slugs --------------------------------------------------------------------


def counted_quizzes(session: Session, company_id: int) -> int:
    """Quizzes that count against the plan: all but the archived ones."""
    return (
        session.scalar(
            select(func.count()).select_from(Quiz).where(Quiz.company_id == company_id, Quiz.status != ARCHIVED)
        )
        or 0
    )


def check_quota(session: Session, company: Company) -> None:
    used = counted_quizzes(session, company.id)
    if used >= company.max_quizzes:
        noun = "quiz" if company.max_quizzes == 1 else "quizzes"
        raise QuizError(
            {
                "quota": (
                    f"Your {company.plan.title()} plan allows {company.max_quizzes} {noun} and you have {used}. "
                    "Archive a quiz you no longer use, or ask us about a larger plan."
                )
            }
        )


def slug_taken(session: Session, company_id: int, slug: str, exclude_id: int | None = None) -> bool:
    query = select(Quiz.id).where(Quiz.company_id == company_id, Quiz.slug == slug)
    if exclude_id is not None:
        query = query.where(Quiz.id != exclude_id)
    return session.scalar(query.limit(1)) is not None


def free_slug(session: Session, company_id: int, base: str, exclude_id: int | None = None) -> str:
    base = definition.slugify(base)[:72].strip("-") or "quiz"
    slug, number = base, 1
    while slug_taken(session, company_id, slug, exclude_id):
        number += 1
        slug = f"{base}-{number}"
    return slug


def slug_status(session: Session, company_id: int, raw: str, exclude_id: int | None = None) -> dict[str, Any]:
    """The answer of the builder's as-you-type slug check."""
    slug = (raw or "").strip().lower()
    problem = definition.slug_problem(slug)
    if problem:
        return {"slug": slug, "available": False, "message": problem}
    if slug_taken(session, company_id, slug, exclude_id):
        return {
            "slug": slug,
            "available": False,
            "message": "Another quiz of your company uses this slug.",
            "suggestion": free_slug(session, company_id, slug, exclude_id),
        }
    return {"slug": slug, "available": True, "message": "This slug is free."}


# -- settings ---------------------------------------------------------------------------


def _settings_errors(
    session: Session, company: Company, quiz: Quiz | None, merged: dict[str, Any], errors: dict[str, str]
) -> dict[str, str]:
    errors = dict(errors)
    for key, message in definition.combination_errors(merged).items():
        errors.setdefault(key, message)
    if "slug" not in errors and slug_taken(session, company.id, merged["slug"], quiz.id if quiz else None):
        errors["slug"] = "Another quiz of your company uses this slug."
    if quiz is not None and quiz.status == PUBLISHED and not errors:
        candidate = SimpleNamespace(**merged, questions=quiz.questions)
        missing = definition.missing_for_publish(candidate, company.privacy_policy_url)
        if missing:
            errors["status"] = "A published quiz must stay complete: " + " ".join(missing)
    return errors


DEFAULTS = {
    "intro": "",
    "brand_color": "#4f46e5",
    "logo_url": None,
    "contact_name": "optional",
    "contact_email": "required",
    "contact_phone": "optional",
    "consent_enabled": True,
    "consent_text": "I agree to be contacted about my answers.",
    "thank_you_message": "Thank you! We will be in touch soon.",
    "redirect_url": None,
    "thank_you_email": False,
}


def create_quiz(session: Session, company: Company, data: Mapping[str, Any], *, actor_id: int | None) -> Quiz:
    """A new draft quiz; missing optional fields get their defaults."""
    check_quota(session, company)
    merged_input = {**DEFAULTS, **{key: value for key, value in data.items() if value is not None}}
    if not str(merged_input.get("slug") or "").strip() and merged_input.get("title"):
        merged_input["slug"] = free_slug(session, company.id, str(merged_input["title"]))
    cleaned = definition.clean_settings(merged_input)
    errors = _settings_errors(session, company, None, cleaned.values, cleaned.errors)
    if errors:
        raise QuizError(errors)
    quiz = Quiz(company_id=company.id, status=DRAFT, created_by_id=actor_id or None, **cleaned.values)
    session.add(quiz)
    session.flush()
    return quiz


def update_settings(
    session: Session, company: Company, quiz: Quiz, data: Mapping[str, Any], *, partial: bool = False
) -> dict[str, Any]:
    """Apply settings; returns {field: new value} of what changed."""
    cleaned = definition.clean_settings(data, partial=partial)
    merged = {**snapshot(quiz), **cleaned.values}
    errors = _settings_errors(session, company, quiz, merged, cleaned.errors)
    if errors:
        raise QuizError(errors)
    changed = {key: value for key, value in cleaned.values.items() if getattr(quiz, key) != value}
    for key, value in changed.items():
        setattr(quiz, key, value)
    if changed:
        quiz.updated_at = utcnow()
        session.flush()
    return changed


# -- questions --------------------------------------------------------------------------


def _renumber(questions: Sequence[QuizQuestion]) -> None:
    for index, question in enumerate(questions):
        question.position = index


def _apply_options(question: QuizQuestion, rows: Sequence[Mapping[str, Any]]) -> None:
    existing = {option.id: option for option in question.options}
    kept: list[QuizOption] = []
    for index, row in enumerate(rows):
        option = existing.pop(_int_or_none(row.get("id")), None) if row.get("id") is not None else None
        if option is None:
            option = QuizOption(company_id=question.company_id)
        option.label, option.score, option.position = row["label"], row["score"], index
        kept.append(option)
    question.options = kept


def _int_or_none(raw: Any) -> int | None:
    """A row id sent with a row (JSON number or form text); anything else names none."""
    return parse_id(raw)


def question_values(question: QuizQuestion) -> dict[str, Any]:
    return {
        "kind": question.kind,
        "text": question.text,
        "help_text": question.help_text,
        "required": question.required,
        "scored": question.scored,
        "min_value": None if question.min_value is None else str(question.min_value.normalize()),
        "max_value": None if question.max_value is None else str(question.max_value.normalize()),
        "options": [{"label": option.label, "score": option.score} for option in question.options],
    }


def add_question(
    session: Session, quiz: Quiz, data: Mapping[str, Any], options: Sequence[Mapping[str, Any]] | None = None
) -> QuizQuestion:
    if len(quiz.questions) >= definition.MAX_QUESTIONS:
        raise QuizError({"text": f"A quiz holds at most {definition.MAX_QUESTIONS} questions."})
    cleaned = definition.clean_question(data, options)
    if cleaned.errors:
        raise QuizError(cleaned.errors)
    values = dict(cleaned.values)
    rows = values.pop("options")
    question = QuizQuestion(company_id=quiz.company_id, position=len(quiz.questions), **values)
    quiz.questions.append(question)
    _apply_options(question, rows)
    quiz.updated_at = utcnow()
    session.flush()
    return question


def update_question(
    session: Session, quiz: Quiz, question: QuizQuestion, data: Mapping[str, Any], options: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    cleaned = definition.clean_question(data, options)
    if cleaned.errors:
        raise QuizError(cleaned.errors)
    before = question_values(question)
    values = dict(cleaned.values)
    rows = values.pop("options")
    for key, value in values.items():
        setattr(question, key, value)
    _apply_options(question, rows)
    quiz.updated_at = utcnow()
    session.flush()
    # {field: {"from": old, "to": new}}, as every audit row records a change.
    return diff(before, question_values(question))


def delete_question(session: Session, quiz: Quiz, question: QuizQuestion) -> None:
    if quiz.status == PUBLISHED and len(quiz.questions) <= 1:
        raise QuizError({"question": "A published quiz needs at least one question: unpublish it first."})
    quiz.questions.remove(question)
    _renumber(quiz.questions)
    quiz.updated_at = utcnow()
    session.flush()


def move_question(session: Session, quiz: Quiz, question: QuizQuestion, direction: str) -> bool:
    """Move one place up or down; False when it is already at that end."""
    questions = list(quiz.questions)
    index = questions.index(question)
    target = index - 1 if direction == "up" else index + 1
    if direction not in ("up", "down") or not 0 <= target < len(questions):
        return False
    questions[index], questions[target] = questions[target], questions[index]
    _renumber(questions)
    quiz.updated_at = utcnow()
    session.flush()
    session.expire(quiz, ["questions"])
    return True


def reorder_questions(session: Session, quiz: Quiz, order: Sequence[Any]) -> None:
    """Put the questions in the order of ``order`` (all of the quiz's question ids)."""
    by_id = {question.id: question for question in quiz.questions}
    ids = [_int_or_none(item) for item in order]
    if sorted(i for i in ids if i is not None) != sorted(by_id) or len(ids) != len(by_id):
        raise QuizError({"order": "Send every question of the quiz exactly once."})
    _renumber([by_id[i] for i in ids])
    quiz.updated_at = utcnow()
    session.flush()
    session.expire(quiz, ["questions"])


# -- outcomes ---------------------------------------------------------------------------


def add_outcome(session: Session, quiz: Quiz, data: Mapping[str, Any]) -> QuizOutcome:
    if len(quiz.outcomes) >= definition.MAX_OUTCOMES:
        raise QuizError({"title": f"A quiz holds at most {definition.MAX_OUTCOMES} outcomes."})
    cleaned = definition.clean_outcome(data, quiz.outcomes)
    if cleaned.errors:
        raise QuizError(cleaned.errors)
    outcome = QuizOutcome(company_id=quiz.company_id, **cleaned.values)
    quiz.outcomes.append(outcome)
    quiz.updated_at = utcnow()
    session.flush()
    return outcome


def update_outcome(session: Session, quiz: Quiz, outcome: QuizOutcome, data: Mapping[str, Any]) -> dict[str, Any]:
    others = [other for other in quiz.outcomes if other.id != outcome.id]
    cleaned = definition.clean_outcome(data, others)
    if cleaned.errors:
        raise QuizError(cleaned.errors)
    changed = {key: value for key, value in cleaned.values.items() if getattr(outcome, key) != value}
    for key, value in changed.items():
        setattr(outcome, key, value)
    quiz.updated_at = utcnow()
    session.flush()
    return changed


def delete_outcome(session: Session, quiz: Quiz, outcome: QuizOutcome) -> None:
    quiz.outcomes.remove(outcome)
    quiz.updated_at = utcnow()
    session.flush()


# -- whole definitions (API) ------------------------------------------------------------


def _validate_definition(
    quiz: Quiz | None, questions: Sequence[Mapping[str, Any]] | None, outcomes: Sequence[Mapping[str, Any]] | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    errors: dict[str, str] = {}
    clean_questions: list[dict[str, Any]] = []
    clean_outcomes: list[dict[str, Any]] = []
    known_questions = {q.id for q in quiz.questions} if quiz else set()
    known_outcomes = {o.id for o in quiz.outcomes} if quiz else set()
    if questions is not None:
        if not isinstance(questions, list) or len(questions) > definition.MAX_QUESTIONS:
            errors["questions"] = f"Send a list of at most {definition.MAX_QUESTIONS} questions."
        else:
            for number, item in enumerate(questions, start=1):
                if not isinstance(item, Mapping):
                    errors[f"questions.{number}"] = "Send each question as an object."
                    continue
                options = item.get("options") or []
                if not isinstance(options, list) or not all(isinstance(o, Mapping) for o in options):
                    errors[f"questions.{number}.options"] = "Send options as a list of objects."
                    continue
                cleaned = definition.clean_question(item, options)
                for key, message in cleaned.errors.items():
                    errors[f"questions.{number}.{key}"] = message
                question_id = _int_or_none(item.get("id"))
                if item.get("id") is not None and question_id not in known_questions:
                    errors[f"questions.{number}.id"] = "No such question in this quiz."
                clean_questions.append({**cleaned.values, "id": question_id})
    if outcomes is not None:
        if not isinstance(outcomes, list) or len(outcomes) > definition.MAX_OUTCOMES:
            errors["outcomes"] = f"Send a list of at most {definition.MAX_OUTCOMES} outcomes."
        else:
            for number, item in enumerate(outcomes, start=1):
                if not isinstance(item, Mapping):
                    errors[f"outcomes.{number}"] = "Send each outcome as an object."
                    continue
                cleaned = definition.clean_outcome(item, clean_outcomes)
                for key, message in cleaned.errors.items():
                    errors[f"outcomes.{number}.{key}"] = message
                outcome_id = _int_or_none(item.get("id"))
                if item.get("id") is not None and outcome_id not in known_outcomes:
                    errors[f"outcomes.{number}.id"] = "No such outcome in this quiz."
                clean_outcomes.append({**cleaned.values, "id": outcome_id})
    return clean_questions, clean_outcomes, errors


def replace_definition(
    session: Session,
    company: Company,
    quiz: Quiz,
    questions: Sequence[Mapping[str, Any]] | None,
    outcomes: Sequence[Mapping[str, Any]] | None,
    *,
    check_only: bool = False,
) -> None:
    """Make the quiz's questions (and/or outcomes) exactly the given lists. Items with an
    ``id`` update that question/outcome; others are added; those not listed are removed."""
    clean_questions, clean_outcomes, errors = _validate_definition(quiz, questions, outcomes)
    if not errors and questions is not None and quiz.status == PUBLISHED and not clean_questions:
        errors["questions"] = "A published quiz needs at least one question: unpublish it first."
    if errors:
        raise QuizError(errors)
    if check_only:
        return
    if questions is not None:
        existing = {question.id: question for question in quiz.questions}
        ordered: list[QuizQuestion] = []
        for values in clean_questions:
            values = dict(values)
            question = existing.pop(values.pop("id"), None) or QuizQuestion(company_id=quiz.company_id)
            rows = values.pop("options")
            for key, value in values.items():
                setattr(question, key, value)
            _apply_options(question, rows if question.kind in ("single", "multiple") else [])
            ordered.append(question)
        _renumber(ordered)
        quiz.questions = ordered
    if outcomes is not None:
        existing_outcomes = {outcome.id: outcome for outcome in quiz.outcomes}
        kept: list[QuizOutcome] = []
        for values in clean_outcomes:
            values = dict(values)
            outcome = existing_outcomes.pop(values.pop("id"), None) or QuizOutcome(company_id=quiz.company_id)
            for key, value in values.items():
                setattr(outcome, key, value)
            kept.append(outcome)
        quiz.outcomes = kept
    quiz.updated_at = utcnow()
    session.flush()


# -- states -----------------------------------------------------------------------------


def publish(session: Session, company: Company, quiz: Quiz) -> None:
    missing = definition.missing_for_publish(quiz, company.privacy_policy_url)
    if missing:
        raise QuizError({"status": "The quiz is not ready to publish."}, missing)
    if quiz.status == PUBLISHED:
        return
    quiz.status = PUBLISHED
    quiz.published_at = utcnow()
    quiz.updated_at = utcnow()
    session.flush()


def unpublish(session: Session, quiz: Quiz) -> None:
    if quiz.status != PUBLISHED:
        raise QuizError({"status": "Only a published quiz can be unpublished."})
    quiz.status = UNPUBLISHED
    quiz.updated_at = utcnow()
    session.flush()


def archive(session: Session, quiz: Quiz) -> None:
    if quiz.status == ARCHIVED:
        raise QuizError({"status": "The quiz is archived already."})
    quiz.status = ARCHIVED
    quiz.updated_at = utcnow()
    session.flush()


def restore(session: Session, company: Company, quiz: Quiz) -> None:
    if quiz.status != ARCHIVED:
        raise QuizError({"status": "Only an archived quiz can be restored."})
    check_quota(session, company)
    quiz.status = UNPUBLISHED if quiz.published_at else DRAFT
    quiz.updated_at = utcnow()
    session.flush()


def set_status(session: Session, company: Company, quiz: Quiz, status: str) -> None:
    if status == quiz.status:
        return
    if status == PUBLISHED:
        publish(session, company, quiz)
    elif status == UNPUBLISHED:
        unpublish(session, quiz)
    elif status == ARCHIVED:
        archive(session, quiz)
    elif status == DRAFT and quiz.status == ARCHIVED:
        restore(session, company, quiz)
    else:
        raise QuizError({"status": f"A {quiz.status} quiz cannot become {status}."})


def duplicate(session: Session, company: Company, quiz: Quiz, *, actor_id: int | None) -> Quiz:
    """A draft copy with every question, option and outcome, under a free slug."""
    check_quota(session, company)
    values = {name: getattr(quiz, name) for name in definition.SETTINGS_FIELDS}
    title = f"{quiz.title} (copy)"
    values["title"] = title if len(title) <= 200 else quiz.title
    values["slug"] = free_slug(session, company.id, f"{quiz.slug}-copy")
    copy = Quiz(company_id=company.id, status=DRAFT, created_by_id=actor_id or None, **values)
    for question in quiz.questions:
        new_question = QuizQuestion(
            company_id=company.id,
            position=question.position,
            kind=question.kind,
            text=question.text,
            help_text=question.help_text,
            required=question.required,
            min_value=question.min_value,
            max_value=question.max_value,
            scored=question.scored,
        )
        new_question.options = [
            QuizOption(company_id=company.id, position=option.position, label=option.label, score=option.score)
            for option in question.options
        ]
        copy.questions.append(new_question)
    copy.outcomes = [
        QuizOutcome(
            company_id=company.id,
            title=outcome.title,
            description=outcome.description,
            min_score=outcome.min_score,
            max_score=outcome.max_score,
        )
        for outcome in quiz.outcomes
    ]
    session.add(copy)
    session.flush()
    return copy
