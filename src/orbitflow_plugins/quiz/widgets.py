"""The dashboard's quiz widget: the last 30 days at a glance."""

from __future__ import annotations

from datetime import timedelta

from pyramid.request import Request
from sqlalchemy import func, select

from orbitflow.models.meta import utcnow
from orbitflow_plugins.quiz.models import PUBLISHED, Quiz
from orbitflow_plugins.quiz.stats import QuizStats, quiz_stats


def quiz_widget_context(request: Request) -> dict:
    session = request.dbsession
    published = session.scalar(select(func.count()).select_from(Quiz).where(Quiz.status == PUBLISHED)) or 0
    ids = session.scalars(select(Quiz.id)).all()
    per_quiz = quiz_stats(session, ids, since=utcnow() - timedelta(days=30))
    total = QuizStats(
        sum(s.views for s in per_quiz.values()),
        sum(s.completions for s in per_quiz.values()),
        sum(s.leads for s in per_quiz.values()),
    )
    return {"published": published, "last30": total}
