"""The visitor's thank-you e-mail, for quizzes that turn it on (off by default): written
to the outbox in the submission's transaction, sent by the core's ``email`` channel."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from orbitflow.companycache import CompanyReader
from orbitflow.db import unscoped
from orbitflow.deliveries import enqueue
from orbitflow.events import QuizEvent
from orbitflow.leads.models import Lead
from orbitflow.tenants.models import Company
from orbitflow_plugins.quiz.models import Quiz


def _load_thanking(session: Session, company_id: int) -> dict[int, tuple[str, str | None]]:
    rows = session.execute(
        select(Quiz.id, Quiz.title, Quiz.thank_you_message).where(
            Quiz.company_id == company_id, Quiz.thank_you_email.is_(True)
        )
    )
    return {quiz_id: (title, message) for quiz_id, title, message in rows}


# Quiz id -> (title, message) of the company's quizzes that send the e-mail: read by every
# submission, cached per process (see orbitflow.companycache for how fresh).
thanking_quizzes = CompanyReader("quiz.thanks_mail", [Quiz.__table__], _load_thanking)


def send_thanks(session: Session, event: QuizEvent) -> bool:
    if event.lead_id is None or event.submission_id is None:
        return False
    with unscoped(session):
        quiz = thanking_quizzes(session, event.company_id).get(event.quiz_id)
        if quiz is None:
            return False
        title, message = quiz
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
                    "quiz": title,
                    "message": message,
                    "company": company.name if company else "",
                },
            },
            event_id=f"evt_quiz_thanks_{event.submission_id}",
        )
    return True
