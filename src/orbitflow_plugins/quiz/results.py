"""A quiz's submissions with their answers, and their CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select

from orbitflow.api.helpers import paginate_page
from orbitflow.audit.services import audit
from orbitflow_plugins.quiz.builder import quiz_or_404
from orbitflow_plugins.quiz.models import QuizSubmission
from orbitflow_plugins.quiz.stats import answered_per_question, funnel
from orbitflow_plugins.quiz.submissions import UTM_KEYS

# Spreadsheet programs run cells starting with these as formulas.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def lead_url(request: Request, lead_id: int | None) -> str | None:
    """The lead page, when the leads package serves one."""
    if lead_id is None:
        return None
    from pyramid.interfaces import IRoutesMapper

    mapper = request.registry.queryUtility(IRoutesMapper)
    for name in ("lead", "lead_detail", "lead_show"):
        if mapper is not None and mapper.get_route(name) is not None:
            try:
                return request.route_url(name, lead_id=lead_id)
            except KeyError:
                try:
                    return request.route_url(name, id=lead_id)
                except KeyError:
                    return None
    return None


@view_config(
    route_name="quiz_submissions", request_method="GET", renderer="quiz_submissions.jinja2", permission="leads.view_all"
)
def submissions(request: Request):
    quiz = quiz_or_404(request)
    query = (
        select(QuizSubmission)
        .where(QuizSubmission.quiz_id == quiz.id)
        .order_by(QuizSubmission.created_at.desc(), QuizSubmission.id.desc())
    )
    page = paginate_page(request.dbsession, query, request, per_page=25)
    return {
        "quiz": quiz,
        "page": page,
        "funnel": funnel(request.dbsession, quiz.id),
        "answered": answered_per_question(request.dbsession, quiz.id),
        "lead_url": lambda lead_id: lead_url(request, lead_id),
    }


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


@view_config(route_name="quiz_submissions_csv", request_method="GET", permission="leads.export")
def submissions_csv(request: Request):
    quiz = quiz_or_404(request)
    rows = request.dbsession.scalars(
        select(QuizSubmission)
        .where(QuizSubmission.quiz_id == quiz.id)
        .order_by(QuizSubmission.created_at, QuizSubmission.id)
    ).all()
    questions = list(quiz.questions)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # The header holds question titles the quiz's editors typed: defused like any cell.
    writer.writerow(
        _cell(value)
        for value in [
            "submitted_at",
            "submission_id",
            "lead_id",
            "new_lead",
            "name",
            "email",
            "phone",
            "consent",
            "score",
            "outcome",
            *UTM_KEYS,
            "referrer",
            *[question.text for question in questions],
        ]
    )
    for row in rows:
        by_question = {answer.get("question_id"): answer.get("answer") for answer in row.answers or []}
        contact = row.contact or {}
        writer.writerow(
            [
                _cell(value)
                for value in (
                    row.created_at.isoformat(sep=" ", timespec="seconds"),
                    row.id,
                    row.lead_id,
                    "yes" if row.created_lead else "no",
                    contact.get("name"),
                    contact.get("email"),
                    contact.get("phone"),
                    "yes" if row.consent else "no",
                    row.score,
                    row.outcome_title,
                    *[getattr(row, key) for key in UTM_KEYS],
                    row.referrer,
                    *[by_question.get(question.id) for question in questions],
                )
            ]
        )
    audit(request, "quiz.export", quiz, changes={"rows": {"from": None, "to": len(rows)}})
    response = Response(buffer.getvalue(), content_type="text/csv", charset="utf-8")
    response.content_disposition = f'attachment; filename="quiz-{quiz.slug}-submissions.csv"'
    return response
