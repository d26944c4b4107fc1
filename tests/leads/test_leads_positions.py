"""Cards keep their order when the gaps between positions run out: the stage is renumbered."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orbitflow.leads.models import Lead
from orbitflow.leads.positions import GAP, LIMIT


@pytest.fixture
def owner_api(api, login_as, owner):
    return api(login_as(owner))


def _column(db, stage) -> list[tuple[str, int]]:
    db.expire_all()
    rows = db.execute(
        select(Lead.name, Lead.position).where(Lead.stage_id == stage.id).order_by(Lead.position, Lead.id)
    )
    return [(name, position) for name, position in rows]


def _at(db, lead: Lead, position: int) -> None:
    lead.position = position
    db.commit()


def test_moving_to_the_end_of_a_column_at_the_limit_renumbers_it(owner_api, make_lead, stages, db):
    a, b = make_lead("A", stage=stages[1]), make_lead("B", stage=stages[1])
    _at(db, a, LIMIT - 1)
    _at(db, b, LIMIT)
    mover = make_lead("M")
    owner_api.post(f"/api/v1/leads/{mover.id}/move", {"stage_id": stages[1].id, "position": 2, "version": 1})
    assert _column(db, stages[1]) == [("A", 0), ("B", GAP), ("M", 2 * GAP)]


def test_dropping_between_neighbours_without_room_near_the_limit_renumbers(owner_api, make_lead, stages, db):
    a, b, c = (make_lead(name, stage=stages[1]) for name in "ABC")
    _at(db, a, 5)
    _at(db, b, 6)
    _at(db, c, LIMIT)
    mover = make_lead("M")
    owner_api.post(f"/api/v1/leads/{mover.id}/move", {"stage_id": stages[1].id, "position": 1, "version": 1})
    column = _column(db, stages[1])
    assert [name for name, _ in column] == ["A", "M", "B", "C"]
    assert max(position for _, position in column) < LIMIT


def test_moving_to_the_top_of_a_column_at_the_lower_limit_renumbers_it(owner_api, make_lead, stages, db):
    a, b = make_lead("A", stage=stages[1]), make_lead("B", stage=stages[1])
    _at(db, a, -LIMIT)
    _at(db, b, -LIMIT + 1)
    mover = make_lead("M")
    owner_api.post(f"/api/v1/leads/{mover.id}/move", {"stage_id": stages[1].id, "position": 0, "version": 1})
    column = _column(db, stages[1])
    assert [name for name, _ in column] == ["M", "A", "B"]
    assert min(position for _, position in column) > -LIMIT
