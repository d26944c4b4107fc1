"""Order of the cards inside a stage: gapped integers, ordered by ``(position, id)``.

A card dropped between two others takes the midpoint of their positions, so a move
usually writes one row. When two neighbours leave no room, every card after the drop
point shifts by one gap in a single UPDATE; when the numbers approach the column's
limits, the stage is renumbered. Ties are harmless: ``id`` breaks them, so the order is
always total. Callers serialise moves into one stage by locking its row first
(:func:`lock_stage`).
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from orbitflow.leads.models import Lead, Stage

GAP = 1024
# Integer columns hold 32 bits; stay well inside so a shift never overflows.
LIMIT = 2**30

Anchor = tuple[int, int]  # (position, id) of the card the moved card goes after

# A Core UPDATE (one statement, many rows) names the company itself: the session refuses
# Core statements on tenant-owned tables that do not.
_LEADS = Lead.__table__
SET_POSITION = (
    update(_LEADS)
    .where(_LEADS.c.id == bindparam("lead_id"), _LEADS.c.company_id == bindparam("lead_company_id"))
    .values(position=bindparam("new_position"))
)


def spread(rows: list[tuple[int, int]]) -> list[dict[str, int]]:
    """Parameters of :data:`SET_POSITION` giving ``(id, company_id)`` rows the positions 0, GAP, 2*GAP, ..."""
    return [
        {"lead_id": lead_id, "lead_company_id": company_id, "new_position": index * GAP}
        for index, (lead_id, company_id) in enumerate(rows)
    ]


def lock_stage(session: Session, stage_id: int) -> Stage | None:
    """The stage, its row locked until commit (MariaDB; SQLite serialises writers)."""
    return session.scalars(
        select(Stage).where(Stage.id == stage_id).with_for_update().execution_options(populate_existing=True)
    ).first()


def _in_stage(stage_id: int, exclude_id: int | None):
    criteria = [Lead.stage_id == stage_id]
    if exclude_id is not None:
        criteria.append(Lead.id != exclude_id)
    return criteria


def _after(anchor: Anchor):
    position, lead_id = anchor
    return or_(Lead.position > position, and_(Lead.position == position, Lead.id > lead_id))


def _before(anchor: Anchor):
    position, lead_id = anchor
    return or_(Lead.position < position, and_(Lead.position == position, Lead.id < lead_id))


def top_position(session: Session, stage_id: int, exclude_id: int | None = None) -> int:
    """A position before every card of the stage."""
    first = session.scalar(select(func.min(Lead.position)).where(*_in_stage(stage_id, exclude_id)))
    if first is None:
        return 0
    if first - GAP < -LIMIT:
        renumber_stage(session, stage_id, exclude_id)
        return top_position(session, stage_id, exclude_id)
    return first - GAP


def first_stage_and_top(session: Session, company_id: int) -> tuple[int, int] | None:
    """The company's first open stage (else its first stage) and a position before every
    card in it, in one statement; None when the company has no stages."""
    first = (
        select(func.min(Lead.position))
        .where(Lead.stage_id == Stage.id, Lead.company_id == company_id)
        .correlate(Stage)
        .scalar_subquery()
    )
    row = session.execute(
        select(Stage.id, first)
        .where(Stage.company_id == company_id)
        .order_by(case((Stage.kind == "open", 0), else_=1), Stage.position, Stage.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    stage_id, lowest = row
    if lowest is None:
        return stage_id, 0
    if lowest - GAP < -LIMIT:
        return stage_id, top_position(session, stage_id)
    return stage_id, lowest - GAP


def bottom_position(session: Session, stage_id: int, exclude_id: int | None = None) -> int:
    """A position after every card of the stage."""
    last = session.scalar(select(func.max(Lead.position)).where(*_in_stage(stage_id, exclude_id)))
    if last is None:
        return 0
    if last + GAP > LIMIT:
        renumber_stage(session, stage_id, exclude_id)
        return bottom_position(session, stage_id, exclude_id)
    return last + GAP


def predecessor(session: Session, stage_id: int, anchor: Anchor, exclude_id: int | None) -> Anchor | None:
    """The card just before ``anchor`` in the stage's order."""
    row = session.execute(
        select(Lead.position, Lead.id)
        .where(*_in_stage(stage_id, exclude_id), _before(anchor))
        .order_by(Lead.position.desc(), Lead.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def position_after(session: Session, stage_id: int, anchor: Anchor | None, exclude_id: int | None = None) -> int:
    """A free position right after ``anchor`` (or at the top when ``anchor`` is None)."""
    if anchor is None:
        return top_position(session, stage_id, exclude_id)
    anchor_position, _ = anchor
    following = session.scalar(
        select(Lead.position)
        .where(*_in_stage(stage_id, exclude_id), _after(anchor))
        .order_by(Lead.position, Lead.id)
        .limit(1)
    )
    if following is None:
        if anchor_position + GAP > LIMIT:
            return _renumbered_after(session, stage_id, anchor, exclude_id)
        return anchor_position + GAP
    if following - anchor_position >= 2:
        return anchor_position + (following - anchor_position) // 2
    return _shift_after(session, stage_id, anchor, exclude_id)


def _shift_after(session: Session, stage_id: int, anchor: Anchor, exclude_id: int | None) -> int:
    """Make room after ``anchor`` by moving every later card down one gap."""
    highest = session.scalar(select(func.max(Lead.position)).where(*_in_stage(stage_id, exclude_id))) or 0
    if highest + GAP > LIMIT:
        return _renumbered_after(session, stage_id, anchor, exclude_id)
    session.execute(
        update(Lead)
        .where(*_in_stage(stage_id, exclude_id), _after(anchor))
        .values(position=Lead.position + GAP)
        .execution_options(synchronize_session=False)
    )
    mark_changed(session)
    return anchor[0] + GAP // 2


def _renumbered_after(session: Session, stage_id: int, anchor: Anchor, exclude_id: int | None) -> int:
    renumber_stage(session, stage_id, exclude_id)
    position = session.scalar(select(Lead.position).where(Lead.id == anchor[1]))
    if position is None:
        return top_position(session, stage_id, exclude_id)
    return position_after(session, stage_id, (position, anchor[1]), exclude_id)


def renumber_stage(session: Session, stage_id: int, exclude_id: int | None = None) -> int:
    """Give the stage's cards the positions 0, GAP, 2*GAP, ... in their current order."""
    rows = session.execute(
        select(Lead.id, Lead.company_id).where(*_in_stage(stage_id, exclude_id)).order_by(Lead.position, Lead.id)
    ).all()
    if rows:
        session.execute(SET_POSITION, spread([tuple(row) for row in rows]))
        mark_changed(session)
    return len(rows)
