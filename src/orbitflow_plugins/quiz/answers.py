"""A visitor's answers: read from the posted form, validated per question, scored.

The form names each question's field ``q_<question id>`` (several values for multiple
choice) and the contact fields ``name``, ``email``, ``phone`` and ``consent``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from orbitflow.leads import normalize as norm
from orbitflow_plugins.quiz.models import MULTIPLE, NUMBER, OFF, RATING, REQUIRED, SINGLE, TEXT, Quiz

MAX_TEXT_ANSWER = 500
MAX_NAME = 200
# The whole answer set, as stored: larger posts are refused before validation.
MAX_ANSWERS_BYTES = 16 * 1024


class MultiForm(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...

    def getall(self, key: str) -> list[Any]: ...


@dataclass
class Result:
    answers: list[dict[str, Any]] = field(default_factory=list)
    contact: dict[str, Any] = field(default_factory=dict)
    consent: bool = False
    score: int = 0
    outcome: Any = None
    errors: dict[str, str] = field(default_factory=dict)
    # What the visitor sent, to fill the form again after an error.
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _one(form: MultiForm, name: str) -> str:
    values = form.getall(name)
    return str(values[-1]).strip() if values else ""


def _number_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def read_answers(quiz: Quiz, form: MultiForm, *, phone_region: str) -> Result:
    """The visitor's answers and contact fields; a phone number without a country code is
    read as one of ``phone_region`` (the company's country)."""
    result = Result()
    for question in quiz.questions:
        name = question.field_name
        if question.kind == MULTIPLE:
            raw_values = [str(value) for value in form.getall(name)]
            result.values[name] = raw_values
        else:
            raw_values = [str(value).strip() for value in form.getall(name)] or [""]
            result.values[name] = raw_values[-1]
        answer = _answer(question, raw_values, result.errors)
        if answer is not None:
            result.answers.append(answer)
            result.score += answer["score"]
    _read_contact(quiz, form, result, phone_region)
    if not result.errors:
        result.outcome = next((outcome for outcome in quiz.outcomes if outcome.matches(result.score)), None)
    return result


def _answer(question, raw_values: list[str], errors: dict[str, str]) -> dict[str, Any] | None:
    name = question.field_name
    base = {"question_id": question.id, "question": question.text, "kind": question.kind}
    given = [value for value in raw_values if value.strip()]
    if not given:
        if question.required:
            errors[name] = "Choose at least one answer." if question.kind == MULTIPLE else "Answer this question."
        return None
    if question.kind in (SINGLE, MULTIPLE):
        by_id = {str(option.id): option for option in question.options}
        if (len(given) > 1 and question.kind == SINGLE) or len(given) > len(by_id):
            errors[name] = "Choose one answer." if question.kind == SINGLE else "Choose from the listed answers."
            return None
        chosen = []
        for value in dict.fromkeys(given):
            option = by_id.get(value.strip())
            if option is None:
                errors[name] = "Choose one of the listed answers."
                return None
            chosen.append(option)
        chosen.sort(key=lambda option: (option.position, option.id))
        return {
            **base,
            "answer": ", ".join(option.label for option in chosen),
            "option_ids": [option.id for option in chosen],
            "score": sum(option.score for option in chosen),
        }
    value = given[0].strip()
    if question.kind == TEXT:
        if len(value) > MAX_TEXT_ANSWER:
            errors[name] = f"Keep the answer under {MAX_TEXT_ANSWER} characters."
            return None
        return {**base, "answer": value, "score": 0}
    try:
        number = Decimal(value.replace(",", ".").replace(" ", ""))
        if not number.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        errors[name] = "Enter a number." if question.kind == NUMBER else "Choose a rating."
        return None
    if question.kind == NUMBER:
        if question.min_value is not None and number < question.min_value:
            errors[name] = f"Enter {_number_text(question.min_value)} or more."
            return None
        if question.max_value is not None and number > question.max_value:
            errors[name] = f"Enter {_number_text(question.max_value)} or less."
            return None
        if abs(number) >= Decimal("1e12"):
            errors[name] = "Enter a smaller number."
            return None
    elif question.kind == RATING and (number != number.to_integral_value() or not 1 <= number <= question.rating_scale):
        errors[name] = f"Choose a rating from 1 to {question.rating_scale}."
        return None
    score = int(number) if question.scored else 0
    return {**base, "answer": _number_text(number), "score": score}


def _read_contact(quiz: Quiz, form: MultiForm, result: Result, phone_region: str) -> None:
    labels = {"name": "your name", "email": "your email address", "phone": "your phone number"}
    for field_name in ("name", "email", "phone"):
        mode = quiz.contact_mode(field_name)
        raw = _one(form, field_name)
        result.values[field_name] = raw
        if mode == OFF:
            continue
        if not raw:
            if mode == REQUIRED:
                result.errors[field_name] = f"Enter {labels[field_name]}."
            continue
        try:
            if field_name == "name":
                value = norm.clean_text(raw, MAX_NAME)
            elif field_name == "email":
                value = norm.normalise_email(raw)
            else:
                value = norm.normalise_phone(raw, phone_region)
        except norm.FieldError as error:
            result.errors[field_name] = str(error)
            continue
        if value:
            result.contact[field_name] = value
    consent = _one(form, "consent").lower() in {"1", "on", "yes", "true"}
    result.values["consent"] = consent
    if quiz.consent_enabled:
        result.consent = consent
        if not consent:
            result.errors["consent"] = "Tick the box to agree, so we may contact you."


def answers_size(answers: list[dict[str, Any]], contact: Mapping[str, Any]) -> int:
    import json

    return len(json.dumps([answers, contact], ensure_ascii=False).encode())
