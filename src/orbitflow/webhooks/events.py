"""Which domain events a webhook can subscribe to, and the body each delivery carries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from orbitflow.events import LeadEvent, QuizEvent
from orbitflow.leads.models import Lead
from orbitflow.leads.representation import lead_json

EVENT_TYPES = ("lead.created", "lead.updated", "lead.moved", "lead.deleted", "quiz.submitted")
TEST_EVENT = "webhook.test"
HOOK_EVENT_TYPES = {
    "lead_created": "lead.created",
    "lead_updated": "lead.updated",
    "lead_moved": "lead.moved",
    "lead_deleted": "lead.deleted",
    "quiz_submitted": "quiz.submitted",
}


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def body(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The Standard Webhooks body: ``{"type", "timestamp", "data"}``."""
    return {"type": event_type, "timestamp": now_iso(), "data": data}


def event_id_of(event: LeadEvent | QuizEvent) -> str:
    if isinstance(event, QuizEvent):
        given = event.data.get("event_id")
        return str(given) if given else f"evt_quiz_{event.quiz_id}_{event.submission_id}"
    return event.event_id


def data_of(session: Session, event: LeadEvent | QuizEvent) -> dict[str, Any] | None:
    """``data``: the lead's contract fields; for quiz.submitted also ``quiz_id``,
    ``submission_id``, ``score``, ``outcome`` and ``answers``; for lead.updated the
    changed fields (``changes``: name -> from/to). None when the lead is gone."""
    lead = getattr(event, "lead", None)
    if lead is None and event.lead_id is not None:
        row = session.get(Lead, event.lead_id)
        lead = lead_json(row) if row is not None else None
    if lead is None:
        return None
    if isinstance(event, QuizEvent):
        return {
            **lead,
            "quiz_id": event.quiz_id,
            "submission_id": event.submission_id,
            "score": event.data.get("score"),
            "outcome": event.data.get("outcome"),
            "answers": event.data.get("answers", []),
        }
    return {**lead, "changes": event.changes} if event.changes else dict(lead)
