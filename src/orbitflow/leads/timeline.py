"""Words for the lines of a lead's timeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orbitflow.leads.models import LeadActivity

FIELD_LABELS = {
    "name": "name",
    "email": "email",
    "phone": "phone",
    "company_name": "company",
    "value": "value",
    "source": "source",
    "tags": "tags",
    "utm_source": "UTM source",
    "utm_medium": "UTM medium",
    "utm_campaign": "UTM campaign",
    "utm_term": "UTM term",
    "utm_content": "UTM content",
    "referrer": "referrer",
    "consent": "consent",
}


@dataclass(frozen=True)
class Line:
    title: str
    # (label, before, after) rows for edits; answers for quizzes; or any JSON to show as is.
    changes: list[tuple[str, Any, Any]] | None = None
    answers: list[tuple[str, Any]] | None = None
    details: Any = None


def _show(value: Any) -> Any:
    if value in (None, "", []):
        return "—"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _answers(data: dict[str, Any]) -> list[tuple[str, Any]] | None:
    answers = data.get("answers")
    if isinstance(answers, list) and all(isinstance(item, dict) for item in answers):
        rows = []
        for item in answers:
            question = item.get("question") or item.get("label") or item.get("key") or "Answer"
            answer = item.get("answer", item.get("value"))
            rows.append((str(question), _show(answer)))
        return rows
    if isinstance(answers, dict):
        return [(str(key), _show(value)) for key, value in answers.items()]
    return None


def describe_activity(entry: LeadActivity) -> Line:
    data = entry.data if isinstance(entry.data, dict) else {}
    kind = entry.kind
    if kind == "created":
        return Line(f"Created (source: {data.get('source', 'manual')})")
    if kind == "moved":
        reason = f" ({data['reason']})" if data.get("reason") else ""
        return Line(f"Moved from {data.get('from') or '?'} to {data.get('to') or '?'}{reason}")
    if kind == "assigned":
        if data.get("to"):
            return Line(f"Assigned to {data['to']}" + (f" (was {data['from']})" if data.get("from") else ""))
        return Line("Unassigned" + (f" (was {data['from']})" if data.get("from") else ""))
    if kind == "edited":
        changes = data.get("changes") or {}
        rows = [
            (FIELD_LABELS.get(name, name), _show(change.get("from")), _show(change.get("to")))
            for name, change in changes.items()
            if isinstance(change, dict)
        ]
        return Line("Edited " + ", ".join(row[0] for row in rows), changes=rows)
    if kind == "note":
        return Line("Note added", details=data.get("excerpt"))
    if kind == "merged":
        return Line(f"Merged lead #{data.get('merged_id')} ({data.get('merged_name', '')}) into this one")
    if kind == "quiz":
        title = data.get("quiz") or data.get("quiz_title") or data.get("title") or "a quiz"
        answers = _answers(data)
        # Ids are for links between records, not for people reading the timeline.
        rest = {
            key: value
            for key, value in data.items()
            if key not in ("answers", "quiz", "quiz_title", "title") and not key.endswith("_id")
        }
        return Line(f"Answered {title}", answers=answers, details=(rest or None) if answers is not None else data)
    return Line(kind.replace("_", " ").capitalize(), details=data or None)
