"""A quiz submission is counted by the analytics rollups after commit: the request writes
none of their rows, the process's writer counts the lead with its quiz and campaign."""

from __future__ import annotations

from quizkit import good_answers, public_path, submit
from sqlalchemy import event, select

from orbitflow.shared import shared
from orbitflow_plugins.analytics.models import LeadDaily, LeadFact
from orbitflow_plugins.analytics.rollups import LeadRollups


def test_a_submission_is_counted_after_the_flush_and_not_in_its_request(testapp, wsgi_app, backend, db, company, quiz):
    rollups = shared(wsgi_app.registry, LeadRollups)
    path = public_path(company, quiz)
    page = testapp.get(path + "?utm_source=facebook&utm_campaign=spring")
    statements: list[str] = []

    def spy(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(backend.engine, "before_cursor_execute", spy)
    try:
        response = submit(testapp, path, good_answers(quiz), query="?utm_source=facebook&utm_campaign=spring")
    finally:
        event.remove(backend.engine, "before_cursor_execute", spy)
    assert response.status_int == 303, page.status
    assert not [s for s in statements if "analytics_lead_daily" in s or "analytics_lead_facts" in s]
    rollups.flush()
    db.expire_all()
    rows = db.execute(
        select(
            LeadDaily.quiz_id, LeadDaily.source, LeadDaily.utm_source, LeadDaily.utm_campaign, LeadDaily.leads
        ).where(LeadDaily.company_id == company.id)
    ).all()
    assert rows == [(quiz.id, "quiz", "facebook", "spring", 1)]
    assert db.scalars(select(LeadFact.quiz_id).where(LeadFact.company_id == company.id)).all() == [quiz.id]
