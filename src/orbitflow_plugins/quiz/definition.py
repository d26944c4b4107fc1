"""Validation of a quiz's definition: its settings, questions and outcomes.

Pure functions over plain values, shared by the builder's forms and the JSON API: each
returns the cleaned values and a dict of field -> message (empty when all is well).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from orbitflow.web.inputs import whole_number
from orbitflow_plugins.quiz.models import (
    CHOICE_KINDS,
    CONTACT_FIELDS,
    CONTACT_MODES,
    NUMBER,
    OFF,
    QUESTION_KINDS,
    RATING,
    REQUIRED,
)
from orbitflow_plugins.quiz.weburl import clean_web_url

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_OPTIONS = 50
MAX_QUESTIONS = 100
MAX_OUTCOMES = 20
SCORE_LIMIT = 100_000
NUMBER_LIMIT = Decimal("1e9")
TRUE_WORDS = {"1", "true", "on", "yes", "y"}


@dataclass
class Cleaned:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def as_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    return str(raw or "").strip().lower() in TRUE_WORDS


def _text(raw: Any) -> str:
    return "" if raw is None else str(raw).strip()


def slugify(title: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80].strip("-") or "quiz"


def slug_problem(slug: str) -> str | None:
    if not slug:
        return "Enter a slug: it becomes the end of the quiz's address."
    if not SLUG_RE.match(slug):
        return "Use 1 to 80 lowercase letters, digits and dashes, starting and ending with a letter or digit."
    return None


SETTINGS_FIELDS = (
    "title",
    "slug",
    "intro",
    "brand_color",
    "logo_url",
    "contact_name",
    "contact_email",
    "contact_phone",
    "consent_enabled",
    "consent_text",
    "thank_you_message",
    "redirect_url",
    "thank_you_email",
)


def clean_settings(data: Mapping[str, Any], *, partial: bool = False) -> Cleaned:
    """Validate the quiz-level fields. With ``partial`` only the fields present are checked
    (API PATCH); the caller checks the combination rules on the merged result."""
    result = Cleaned()
    values, errors = result.values, result.errors

    def present(name: str) -> bool:
        return not partial or name in data

    if present("title"):
        title = _text(data.get("title"))
        if not title:
            errors["title"] = "Give the quiz a title."
        elif len(title) > 200:
            errors["title"] = "Use at most 200 characters."
        values["title"] = title
    if present("slug"):
        slug = _text(data.get("slug")).lower()
        problem = slug_problem(slug)
        if problem:
            errors["slug"] = problem
        values["slug"] = slug
    if present("intro"):
        intro = _text(data.get("intro"))
        if len(intro) > 5000:
            errors["intro"] = "Use at most 5000 characters."
        values["intro"] = intro
    if present("brand_color"):
        color = _text(data.get("brand_color")) or "#4f46e5"
        if not COLOR_RE.match(color):
            errors["brand_color"] = "Use a colour like #4f46e5."
        values["brand_color"] = color.lower()
    if present("logo_url"):
        logo = _text(data.get("logo_url"))
        if logo:
            logo, problem = clean_web_url(logo, https_only=True, limit=500)
            if problem:
                errors["logo_url"] = problem
        values["logo_url"] = logo or None
    for name in CONTACT_FIELDS:
        key = f"contact_{name}"
        if present(key):
            mode = _text(data.get(key)) or OFF
            if mode not in CONTACT_MODES:
                errors[key] = "Choose off, optional or required."
            values[key] = mode
    if present("consent_enabled"):
        values["consent_enabled"] = as_bool(data.get("consent_enabled"))
    if present("consent_text"):
        consent_text = _text(data.get("consent_text"))
        if len(consent_text) > 300:
            errors["consent_text"] = "Use at most 300 characters."
        values["consent_text"] = consent_text
    if present("thank_you_message"):
        message = _text(data.get("thank_you_message"))
        if len(message) > 5000:
            errors["thank_you_message"] = "Use at most 5000 characters."
        values["thank_you_message"] = message
    if present("thank_you_email"):
        values["thank_you_email"] = as_bool(data.get("thank_you_email"))
    if present("redirect_url"):
        redirect = _text(data.get("redirect_url"))
        if redirect:
            redirect, problem = clean_web_url(redirect)
            if problem:
                errors["redirect_url"] = problem
        values["redirect_url"] = redirect or None
    return result


def combination_errors(merged: Mapping[str, Any]) -> dict[str, str]:
    """Rules across fields, checked on the quiz as it will be saved."""
    errors: dict[str, str] = {}
    if merged.get("contact_email") != REQUIRED and merged.get("contact_phone") != REQUIRED:
        errors["contact_email"] = "Require an email address or a phone number: every lead needs a way to reach them."
    if merged.get("consent_enabled") and not _text(merged.get("consent_text")):
        errors["consent_text"] = "Write the consent sentence visitors agree to."
    if not _text(merged.get("thank_you_message")) and not merged.get("redirect_url"):
        errors["thank_you_message"] = "Write a thank-you message or give a redirect address."
    return errors


def _decimal(raw: Any, name: str, errors: dict[str, str]) -> Decimal | None:
    text = _text(raw)
    if text == "":
        return None
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        errors[name] = "Enter a number."
        return None
    if not value.is_finite() or abs(value) >= NUMBER_LIMIT:
        errors[name] = "Enter a smaller number."
        return None
    return value


def _int(raw: Any, name: str, errors: dict[str, str], *, limit: int = SCORE_LIMIT) -> int | None:
    text = _text(raw)
    if text == "":
        return None
    value = whole_number(text)
    if value is None:
        errors[name] = "Enter a whole number."
        return None
    if abs(value) > limit:
        errors[name] = f"Use a number from -{limit} to {limit}."
        return None
    return value


def clean_question(data: Mapping[str, Any], options: Sequence[Mapping[str, Any]] | None) -> Cleaned:
    """Validate one question; ``options`` are rows ``{"label", "score"}`` in display order
    (blank rows already dropped by the caller). Option errors are keyed ``option_<n>``."""
    result = Cleaned()
    values, errors = result.values, result.errors
    kind = _text(data.get("kind"))
    if kind not in QUESTION_KINDS:
        errors["kind"] = f"Choose one of: {', '.join(QUESTION_KINDS)}."
    values["kind"] = kind
    text = _text(data.get("text"))
    if not text:
        errors["text"] = "Write the question."
    elif len(text) > 500:
        errors["text"] = "Use at most 500 characters."
    values["text"] = text
    help_text = _text(data.get("help_text"))
    if len(help_text) > 500:
        errors["help_text"] = "Use at most 500 characters."
    values["help_text"] = help_text
    values["required"] = as_bool(data.get("required"))
    values["scored"] = as_bool(data.get("scored")) and kind in (NUMBER, RATING)
    values["min_value"] = values["max_value"] = None
    if kind == NUMBER:
        low = _decimal(data.get("min_value"), "min_value", errors)
        high = _decimal(data.get("max_value"), "max_value", errors)
        if low is not None and high is not None and low > high:
            errors["max_value"] = "The largest allowed number must not be below the smallest."
        values["min_value"], values["max_value"] = low, high
    elif kind == RATING:
        scale = _int(data.get("max_value") or data.get("scale") or 5, "max_value", errors, limit=10)
        if scale is not None and not 3 <= scale <= 10:
            errors["max_value"] = "A rating scale goes up to 3 to 10 stars."
        values["min_value"], values["max_value"] = Decimal(1), Decimal(scale or 5)
    clean_options: list[dict[str, Any]] = []
    if kind in CHOICE_KINDS:
        rows = list(options or [])
        seen: set[str] = set()
        for index, row in enumerate(rows, start=1):
            label = _text(row.get("label"))
            key = f"option_{index}"
            if not label:
                errors[key] = "Give the option a label."
            elif len(label) > 200:
                errors[key] = "Use at most 200 characters."
            elif label.lower() in seen:
                errors[key] = f"“{label}” is listed twice."
            seen.add(label.lower())
            score = _int(row.get("score"), key, errors)
            clean_options.append({"label": label, "score": score or 0, "id": row.get("id")})
        if len(rows) < 2:
            errors["options"] = "Give a choice question at least two options."
        elif len(rows) > MAX_OPTIONS:
            errors["options"] = f"Use at most {MAX_OPTIONS} options."
    values["options"] = clean_options
    return result


def clean_outcome(data: Mapping[str, Any], others: Iterable[Any] = ()) -> Cleaned:
    """Validate an outcome; ``others`` are the quiz's other outcomes (objects or dicts with
    ``min_score``/``max_score``/``title``) whose ranges it must not overlap."""
    result = Cleaned()
    values, errors = result.values, result.errors
    title = _text(data.get("title"))
    if not title:
        errors["title"] = "Give the outcome a title."
    elif len(title) > 200:
        errors["title"] = "Use at most 200 characters."
    values["title"] = title
    description = _text(data.get("description"))
    if len(description) > 5000:
        errors["description"] = "Use at most 5000 characters."
    values["description"] = description
    low = _int(data.get("min_score"), "min_score", errors)
    high = _int(data.get("max_score"), "max_score", errors)
    if low is not None and high is not None and low > high:
        errors["max_score"] = "The highest score must not be below the lowest."
    values["min_score"], values["max_score"] = low, high
    if "min_score" not in errors and "max_score" not in errors:
        for other in others:
            other_low, other_high = _get(other, "min_score"), _get(other, "max_score")
            if _overlaps(low, high, other_low, other_high):
                errors["min_score"] = (
                    f"This score range overlaps “{_get(other, 'title')}” ({_range(other_low, other_high)})."
                )
                break
    return result


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name)


def _overlaps(a_low: int | None, a_high: int | None, b_low: int | None, b_high: int | None) -> bool:
    low = max(-(10**12) if a_low is None else a_low, -(10**12) if b_low is None else b_low)
    high = min(10**12 if a_high is None else a_high, 10**12 if b_high is None else b_high)
    return low <= high


def _range(low: int | None, high: int | None) -> str:
    if low is None and high is None:
        return "any score"
    if low is None:
        return f"up to {high}"
    if high is None:
        return f"{low} and up"
    return f"{low} to {high}"


def score_range_label(outcome: Any) -> str:
    return _range(_get(outcome, "min_score"), _get(outcome, "max_score"))


def missing_for_publish(quiz: Any, privacy_policy_url: str | None) -> list[str]:
    """What stops ``quiz`` from going public, as sentences for the builder and the API."""
    missing: list[str] = []
    if quiz.status == "archived":
        missing.append("Restore the quiz from the archive first.")
    if not _text(quiz.title):
        missing.append("Give the quiz a title.")
    if not quiz.questions:
        missing.append("Add at least one question.")
    for number, question in enumerate(quiz.questions, start=1):
        if question.kind in CHOICE_KINDS and len(question.options) < 2:
            missing.append(f"Question {number} (“{question.text}”) needs at least two options.")
    for key, message in combination_errors({name: getattr(quiz, name) for name in SETTINGS_FIELDS}).items():
        del key
        missing.append(message)
    if quiz.consent_enabled and not privacy_policy_url:
        missing.append(
            "Set the company's privacy policy address (Settings → Quiz pages) or turn the consent checkbox off."
        )
    return missing
