"""The board and the list cost the same number of SQL statements for 5 leads as for 60."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from sqlalchemy import event

from orbitflow.leads.models import Lead, LeadTag
from orbitflow.leads.positions import GAP


@contextlib.contextmanager
def counting(engine):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def fill(db, stages, make_user, company):
    owners = [make_user(company, "AGENT") for _ in range(3)]
    counter = itertools.count()

    def add(count: int) -> None:
        for _ in range(count):
            number = next(counter)
            stage = stages[number % len(stages)]
            lead = Lead(
                company_id=company.id,
                name=f"Lead {number}",
                email=f"lead{number}@example.com",
                stage_id=stage.id,
                position=number * GAP,
                value=100 + number,
                owner_id=owners[number % 3].id if number % 4 else None,
                source=("manual", "quiz", "import")[number % 3],
            )
            lead.tag_rows = [LeadTag(company_id=company.id, tag=tag) for tag in ("vip", f"t{number % 5}")]
            db.add(lead)
        db.commit()

    return add


PAGES = ["/pipeline", "/pipeline?q=lead&source=quiz", "/leads", "/leads?q=lead&tag=vip&sort=name", "/api/v1/leads"]


@pytest.mark.parametrize("url", PAGES)
def test_statement_count_does_not_grow_with_leads(url, backend, testapp, login_as, owner, fill):
    login_as(owner)
    fill(5)
    testapp.get(url)  # warm caches (templates, compiled statements)

    def steady() -> tuple[list[str], object]:
        # The per-process caches check for changes at most every few seconds, in whichever
        # request comes: of two requests in a row, one at most makes that check.
        runs = []
        for _ in range(2):
            with counting(backend.engine) as sent:
                response = testapp.get(url)
            runs.append((sent, response))
        return min(runs, key=lambda run: len(run[0]))

    few, small = steady()
    fill(55)
    many, large = steady()
    assert small.status_int == large.status_int == 200
    assert len(many) == len(few), "\n".join(many)
    assert len(few) <= 16, "\n".join(few)
