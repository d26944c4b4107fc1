"""Per-quiz numbers for the list and the dashboard: two grouped queries, whatever the
number of quizzes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from orbitflow_plugins.quiz.models import QuizFunnelEvent, QuizSubmission


@dataclass(frozen=True)
class QuizStats:
    views: int = 0
    completions: int = 0
    leads: int = 0

    @property
    def conversion(self) -> float | None:
        """Completions per view, as a percentage; None before the first view."""
        if not self.views:
            return None
        return round(100.0 * self.completions / self.views, 1)


def quiz_stats(session: Session, quiz_ids: Iterable[int], since: datetime | None = None) -> dict[int, QuizStats]:
    ids = list(quiz_ids)
    if not ids:
        return {}
    views_query = (
        select(QuizFunnelEvent.quiz_id, func.count())
        .where(QuizFunnelEvent.quiz_id.in_(ids), QuizFunnelEvent.kind == "view")
        .group_by(QuizFunnelEvent.quiz_id)
    )
    submissions_query = (
        select(
            QuizSubmission.quiz_id,
            func.count(),
            func.coalesce(func.sum(cast(QuizSubmission.created_lead, Integer)), 0),
        )
        .where(QuizSubmission.quiz_id.in_(ids))
        .group_by(QuizSubmission.quiz_id)
    )
    if since is not None:
        views_query = views_query.where(QuizFunnelEvent.created_at >= since)
        submissions_query = submissions_query.where(QuizSubmission.created_at >= since)
    views = dict(session.execute(views_query).all())
    submitted = {quiz_id: (count, leads) for quiz_id, count, leads in session.execute(submissions_query)}
    return {
        quiz_id: QuizStats(int(views.get(quiz_id, 0)), *(int(n) for n in submitted.get(quiz_id, (0, 0))))
        for quiz_id in ids
    }


def funnel(session: Session, quiz_id: int) -> dict[str, int]:
    """Visitors per step of one quiz: views, starts, completions."""
    rows = session.execute(
        select(QuizFunnelEvent.kind, func.count(func.distinct(QuizFunnelEvent.session_key)))
        .where(QuizFunnelEvent.quiz_id == quiz_id, QuizFunnelEvent.kind.in_(("view", "start", "complete")))
        .group_by(QuizFunnelEvent.kind)
    )
    return {kind: int(count) for kind, count in rows}


def answered_per_question(session: Session, quiz_id: int) -> dict[int, int]:
    rows = session.execute(
        select(QuizFunnelEvent.question_id, func.count(func.distinct(QuizFunnelEvent.session_key)))
        .where(QuizFunnelEvent.quiz_id == quiz_id, QuizFunnelEvent.kind == "answer")
        .group_by(QuizFunnelEvent.question_id)
    )
    return {question_id: int(count) for question_id, count in rows if question_id is not None}
