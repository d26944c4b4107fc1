"""What the board's cards and the lead list show of quizzes: the score and outcome of a
lead's latest submission, and the quizzes to filter leads by."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from orbitflow.leads.models import Lead
from orbitflow.leads.queries import parse_filter_id
from orbitflow.plugins import FilterChoice, LeadFact, LeadListFilter
from orbitflow_plugins.quiz.models import ARCHIVED, Quiz, QuizSubmission


def latest_results(session: Session, lead_ids: Sequence[int]) -> list[LeadFact]:
    """Score and outcome of each lead's latest submission: one statement for the page."""
    latest = (
        select(func.max(QuizSubmission.id)).where(QuizSubmission.lead_id.in_(lead_ids)).group_by(QuizSubmission.lead_id)
    )
    rows = session.execute(
        select(QuizSubmission.lead_id, QuizSubmission.score, QuizSubmission.outcome_title).where(
            QuizSubmission.id.in_(latest)
        )
    )
    facts = []
    for lead_id, score, outcome in rows:
        facts.append(LeadFact(lead_id, "Score", str(score)))
        if outcome:
            facts.append(LeadFact(lead_id, "Outcome", outcome))
    return facts


def quiz_choices(session: Session) -> list[FilterChoice]:
    quizzes = session.execute(select(Quiz.id, Quiz.title).where(Quiz.status != ARCHIVED).order_by(Quiz.title))
    return [FilterChoice("quiz_id", "Quiz", tuple((str(quiz_id), title) for quiz_id, title in quizzes))]


def _created_by_quiz(company_id: int, values: Mapping[str, Any]) -> ColumnElement[bool]:
    """Leads the quiz's submission created (not those it only updated)."""
    return Lead.id.in_(
        select(QuizSubmission.lead_id).where(
            QuizSubmission.company_id == company_id,
            QuizSubmission.quiz_id == values["quiz_id"],
            QuizSubmission.created_lead == true(),
        )
    )


QUIZ_FILTER = LeadListFilter(("quiz_id",), parse_filter_id, _created_by_quiz)
