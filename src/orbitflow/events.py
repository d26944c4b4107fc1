"""Domain events: small immutable records handed to event hooks, inside the transaction
(``domain_event_in_transaction``) and after commit (``lead_created``, ...)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

# The domain events that reach ``domain_event_in_transaction`` as well as their own
# after-commit hook. ``company_updated`` (a :class:`CompanyEvent`) reaches only
# ``domain_event_in_transaction``.
DOMAIN_EVENTS = ("lead_created", "lead_updated", "lead_moved", "lead_deleted", "quiz_submitted")


def new_event_id() -> str:
    """A stable id for one event, which receivers use to drop duplicates."""
    return f"evt_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class LeadEvent:
    company_id: int
    lead_id: int
    actor_id: int | None
    stage_id: int | None = None
    previous_stage_id: int | None = None
    source: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    # The lead's contract fields when the event was raised (for lead_deleted the only
    # record of what was deleted); None when the raiser did not load the lead.
    lead: dict[str, Any] | None = None
    event_id: str = field(default_factory=new_event_id)


@dataclass(frozen=True)
class QuizEvent:
    company_id: int
    quiz_id: int
    session_key: str | None = None
    lead_id: int | None = None
    submission_id: int | None = None
    utm: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CompanyEvent:
    """A company's settings changed: ``changes`` is the audited diff
    (``{"time_zone": {"from": ..., "to": ...}}``)."""

    company_id: int
    actor_id: int | None
    changes: dict[str, Any] = field(default_factory=dict)
