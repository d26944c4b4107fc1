"""Arranging leads, moves and funnel events for the analytics tests, through the same
services and hooks as the app (the lead service, then the in-transaction domain events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User
from orbitflow.leads.models import Lead, LeadActivity, Stage
from orbitflow.leads.services import add_note, create_lead, lead_event, move_lead, update_lead
from orbitflow.plugins import notify_in_transaction
from orbitflow.shared import shared
from orbitflow.tenants.models import Company
from orbitflow_plugins.analytics.rollups import LeadRollups
from orbitflow_plugins.quiz import services as quiz_services
from orbitflow_plugins.quiz.models import Quiz
from orbitflow_plugins.quiz.recorder import FunnelEvent, FunnelRecorder

QUESTIONS = [
    {"kind": "single", "text": "Team size?", "required": True, "options": [{"label": "Solo"}, {"label": "Many"}]},
    {"kind": "text", "text": "Website?", "required": False},
    {"kind": "rating", "text": "Happy?", "required": True, "max_value": "5"},
]


class Kit:
    def __init__(self, db: Session, app) -> None:
        self.db = db
        self.app = app
        self.recorder = shared(app.registry, FunnelRecorder)
        self.rollups = shared(app.registry, LeadRollups)

    def stage(self, company: Company, name: str) -> Stage:
        return self.db.scalars(select(Stage).where(Stage.company_id == company.id, Stage.name == name)).one()

    def lead(self, company: Company, at: datetime, **fields: Any) -> Lead:
        fields.setdefault("name", "Lead")
        lead = create_lead(self.db, company_id=company.id, actor_id=None, created_at=at, **fields)
        notify_in_transaction(self.app.registry, self.db, "lead_created", lead_event(lead, None))
        self.db.commit()
        return lead

    def move(
        self, lead: Lead, company: Company, stage_name: str, *, by: User | None = None, at: datetime | None = None
    ) -> None:
        """Move the lead (by a person when ``by`` is given; its timeline line dated ``at``)."""
        lead = self.db.get(Lead, lead.id)
        actor = by.id if by is not None else None
        result = move_lead(self.db, lead, stage_id=self.stage(company, stage_name).id, actor_id=actor)
        event = lead_event(result.lead, actor, previous_stage_id=result.previous_stage_id)
        notify_in_transaction(self.app.registry, self.db, "lead_moved", event)
        self._date_last_line(lead, at)
        self.db.commit()

    def note(self, lead: Lead, by: User, at: datetime, body: str = "Called them") -> None:
        """A note by ``by``, its timeline line dated ``at``."""
        add_note(self.db, self.db.get(Lead, lead.id), body, actor_id=by.id)
        self._date_last_line(lead, at)
        self.db.commit()

    def edit(self, lead: Lead, by: User, at: datetime, **changes: Any) -> None:
        """Change fields as ``by``, announced as the app does; the timeline line dated ``at``."""
        lead = self.db.get(Lead, lead.id)
        changed = update_lead(self.db, lead, changes, actor_id=by.id)
        notify_in_transaction(self.app.registry, self.db, "lead_updated", lead_event(lead, by.id, changes=changed))
        self._date_last_line(lead, at)
        self.db.commit()

    def _date_last_line(self, lead: Lead, at: datetime | None) -> None:
        if at is None:
            return
        self.db.flush()
        line = self.db.scalars(
            select(LeadActivity).where(LeadActivity.lead_id == lead.id).order_by(LeadActivity.id.desc()).limit(1)
        ).one()
        line.created_at = at

    def quiz(self, company: Company, title: str = "Find your plan", slug: str | None = None) -> Quiz:
        quiz = quiz_services.create_quiz(
            self.db, company, {"title": title, "slug": slug or title.lower().replace(" ", "-")}, actor_id=None
        )
        quiz_services.replace_definition(self.db, company, quiz, QUESTIONS, [])
        self.db.commit()
        return self.db.scalars(select(Quiz).where(Quiz.id == quiz.id)).one()

    def visit(
        self, quiz: Quiz, key: str, at: datetime, answered: int, *, complete: bool = False, device: str = "mobile"
    ) -> None:
        """One visitor: a view, a start when they answered any, their answers, a completion."""
        questions = sorted(quiz.questions, key=lambda q: (q.position, q.id))
        kinds: list[tuple[str, int | None]] = [("view", None)]
        if answered:
            kinds.append(("start", None))
        kinds += [("answer", q.id) for q in questions[:answered]]
        if complete:
            kinds.append(("complete", None))
        for kind, question_id in kinds:
            self.recorder.record(
                FunnelEvent(quiz.company_id, quiz.id, key, kind, question_id, device=device, created_at=at)
            )

    def flush(self) -> None:
        """Write the funnel events and refresh the changed leads' counts now."""
        self.recorder.flush()
        self.rollups.flush()
