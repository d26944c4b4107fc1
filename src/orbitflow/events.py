"""Domain events: small immutable records handed to event hooks after commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LeadEvent:
    company_id: int
    lead_id: int
    actor_id: int | None
    stage_id: int | None = None
    previous_stage_id: int | None = None
    source: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QuizEvent:
    company_id: int
    quiz_id: int
    session_key: str | None = None
    lead_id: int | None = None
    submission_id: int | None = None
    utm: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
