"""The visitor's thank-you e-mail, for quizzes that turn it on (off by default): written
to the outbox in the submission's transaction, sent by the core's ``email`` channel."""

from __future__ import annotations

from sqlalchemy.orm import Session

from orbitflow.db import unscoped
from orbitflow.deliveries import enqueue
from orbitflow.events import QuizEvent
from orbitflow.leads.models import Lead
from orbitflow.tenants.models import Company
from orbitflow_plugins.quiz.models import Quiz


def send_thanks(session: Session, event: QuizEvent) -> bool:
    if event.lead_id is None or event.submission_id is None:
        return False
    with unscoped(session):
        quiz = session.get(Quiz, event.quiz_id)
        if quiz is None or quiz.company_id != event.company_id or not quiz.thank_you_email:
            return False
        lead = session.get(Lead, event.lead_id)
        if lead is None or not lead.email:
            return False
        company = session.get(Company, event.company_id)
        enqueue(
            session,
            company_id=event.company_id,
            channel="email",
            destination=lead.email,
            payload={
                "template": "visitor_thanks",
                "to_name": lead.name,
                "context": {
                    "recipient": lead.name,
                    "quiz": quiz.title,
                    "message": quiz.thank_you_message,
                    "company": company.name if company else "",
                },
            },
            event_id=f"evt_quiz_thanks_{event.submission_id}",
        )
    return True
