"""Who gets the leads a quiz creates: no one, the chosen users in turn, or by outcome.

A quiz's rule is part of its definition (``Quiz.assign_mode`` and ``Quiz.assignees``), so
the public pages read it from the definition cache with the rest of the quiz: a quiz
without a rule costs its submissions nothing. A rule is applied only when a submission
creates a lead (one that joins a lead the company already has leaves its owner alone),
and the owner it picks goes into the lead service's ``create_lead`` like any other owner,
so the lead's audit entry names it.

The round robin counts its turns with one ``UPDATE … SET turn = turn + 1`` on the quiz's
row of ``quiz_assign_turns``, inside the submission's transaction: the row stays locked
until that submission commits, so concurrent submissions take their turns one after the
other and N submissions among k users give each N/k. A deactivated user's turn goes to
the next active one; with no active user left, the lead stays unassigned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from orbitflow.accounts.models import User
from orbitflow.audit.services import diff
from orbitflow.models.meta import utcnow
from orbitflow.web.inputs import parse_id
from orbitflow_plugins.quiz.models import (
    ASSIGN_BY_OUTCOME,
    ASSIGN_MODES,
    ASSIGN_NONE,
    ASSIGN_ROUND_ROBIN,
    Quiz,
    QuizAssignee,
    QuizAssignTurn,
)
from orbitflow_plugins.quiz.services import QuizError

TURNS = QuizAssignTurn.__table__
# Roles that work leads; viewers only read them.
ASSIGNABLE_ROLES = ("OWNER", "ADMIN", "MANAGER", "AGENT")


@dataclass(frozen=True)
class Rule:
    """A quiz's rule as plain values: a submission's draft outlives the request's session."""

    mode: str = ASSIGN_NONE
    # Round robin: the users in turn order.
    user_ids: tuple[int, ...] = ()
    # By outcome: (outcome id, user id) pairs.
    by_outcome: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, quiz: Quiz) -> Rule:
        if quiz.assign_mode == ASSIGN_ROUND_ROBIN:
            return cls(ASSIGN_ROUND_ROBIN, tuple(a.user_id for a in quiz.assignees if a.outcome_id is None))
        if quiz.assign_mode == ASSIGN_BY_OUTCOME:
            pairs = tuple((a.outcome_id, a.user_id) for a in quiz.assignees if a.outcome_id is not None)
            return cls(ASSIGN_BY_OUTCOME, by_outcome=pairs)
        return cls()


NO_RULE = Rule()


def choose_owner(session: Session, company_id: int, quiz_id: int, rule: Rule, outcome_id: int | None) -> User | None:
    """The owner ``rule`` gives the lead a new submission creates, or None. Hold on to the
    user while the lead is created and announced: the session's identity map keeps it
    only while it is referenced, and the lead service's owner check (and the owner's
    e-mail notice) then find it there without a query."""
    if rule.mode == ASSIGN_ROUND_ROBIN and rule.user_ids:
        return _next_in_turn(session, company_id, quiz_id, rule.user_ids)
    if rule.mode == ASSIGN_BY_OUTCOME and outcome_id is not None:
        user_id = dict(rule.by_outcome).get(outcome_id)
        if user_id is None:
            return None
        return session.scalars(select(User).where(User.id == user_id, *_can_own(company_id))).first()
    return None


def _next_in_turn(session: Session, company_id: int, quiz_id: int, user_ids: tuple[int, ...]) -> User | None:
    # The update locks the quiz's counter until commit: the next submission waits here.
    session.execute(
        update(TURNS).where(TURNS.c.quiz_id == quiz_id, TURNS.c.company_id == company_id).values(turn=TURNS.c.turn + 1)
    )
    mark_changed(session)
    rows = session.execute(
        select(User, QuizAssignTurn.turn)
        .join(QuizAssignTurn, QuizAssignTurn.quiz_id == quiz_id)
        .where(User.id.in_(user_ids), *_can_own(company_id))
    ).all()
    if not rows:
        return None
    active = {user.id: user for user, _ in rows}
    turn = rows[0][1]
    in_order = [active[user_id] for user_id in user_ids if user_id in active]
    return in_order[(turn - 1) % len(in_order)]


def _can_own(company_id: int) -> tuple:
    """Users a rule may hand a lead to now: the company's active users who work leads."""
    return (User.company_id == company_id, User.is_active.is_(True), User.role.in_(ASSIGNABLE_ROLES))


# -- the builder's side -----------------------------------------------------------------


def assignable_users(session: Session, company_id: int) -> list[User]:
    """The company's active users who work leads, for the rule's pickers."""
    return list(session.scalars(select(User).where(*_can_own(company_id)).order_by(User.name, User.username)))


def snapshot(session: Session, quiz: Quiz) -> dict[str, Any]:
    """The rule in words, for the audit diff: users and outcomes by name."""
    ids = {assignee.user_id for assignee in quiz.assignees}
    users = session.scalars(select(User).where(User.id.in_(ids))) if ids else ()
    names = {user.id: user.display_name for user in users}
    outcomes = {outcome.id: outcome.title for outcome in quiz.outcomes}
    values: dict[str, Any] = {"mode": quiz.assign_mode}
    if quiz.assign_mode == ASSIGN_ROUND_ROBIN:
        values["users"] = [names.get(a.user_id, f"#{a.user_id}") for a in quiz.assignees if a.outcome_id is None]
    elif quiz.assign_mode == ASSIGN_BY_OUTCOME:
        values["by_outcome"] = {
            outcomes.get(a.outcome_id, f"#{a.outcome_id}"): names.get(a.user_id, f"#{a.user_id}")
            for a in quiz.assignees
            if a.outcome_id is not None
        }
    return values


def read_form(post) -> tuple[str, list[Any], dict[Any, Any]]:
    """The posted mode, round-robin users and outcome -> user choices (unchecked)."""
    outcomes = {key.removeprefix("outcome_"): value for key, value in post.items() if key.startswith("outcome_")}
    return post.get("mode", ""), post.getall("users"), outcomes


def change_rule(
    session: Session, quiz: Quiz, mode: str, user_ids: Iterable[Any], by_outcome: dict[Any, Any]
) -> dict[str, Any]:
    """:func:`save_rule`, returning the change for the ``quiz.assignment`` audit entry
    (empty when the rule is the same)."""
    before = snapshot(session, quiz)
    save_rule(session, quiz, mode, user_ids, by_outcome)
    return diff(before, snapshot(session, quiz))


def save_rule(session: Session, quiz: Quiz, mode: str, user_ids: Iterable[Any], by_outcome: dict[Any, Any]) -> None:
    """Replace the quiz's rule. Raises :class:`QuizError` (nothing changed) when the mode
    is unknown, a user is not an active user of the company who works leads, or an
    outcome is not the quiz's."""
    if mode not in ASSIGN_MODES:
        raise QuizError({"mode": "Choose how new leads are assigned."})
    allowed = {user.id for user in assignable_users(session, quiz.company_id)}
    rows: list[QuizAssignee] = []
    if mode == ASSIGN_ROUND_ROBIN:
        chosen = [parse_id(raw) for raw in user_ids]
        if not chosen:
            raise QuizError({"users": "Choose at least one user to take turns."})
        if any(user_id not in allowed for user_id in chosen):
            raise QuizError({"users": "Choose among the company's active users."})
        rows = [QuizAssignee(user_id=user_id) for user_id in dict.fromkeys(chosen)]
    elif mode == ASSIGN_BY_OUTCOME:
        outcome_ids = {outcome.id for outcome in quiz.outcomes}
        if not outcome_ids:
            raise QuizError({"mode": "Add the quiz's outcomes first, then choose who gets each one's leads."})
        for raw_outcome, raw_user in by_outcome.items():
            if raw_user in ("", None):
                continue
            outcome_id, user_id = parse_id(raw_outcome), parse_id(raw_user)
            if outcome_id not in outcome_ids:
                raise QuizError({"outcomes": "Choose among this quiz's outcomes."})
            if user_id not in allowed:
                raise QuizError({f"outcome_{outcome_id}": "Choose among the company's active users."})
            rows.append(QuizAssignee(user_id=user_id, outcome_id=outcome_id))
        if not rows:
            raise QuizError({"outcomes": "Choose a user for at least one outcome."})
    for row in rows:
        row.company_id = quiz.company_id
    quiz.assign_mode = mode
    quiz.assignees = rows
    # The rule is part of the cached definition: a newer quiz row makes it read again.
    quiz.updated_at = utcnow()
    if mode == ASSIGN_ROUND_ROBIN and session.get(QuizAssignTurn, quiz.id) is None:
        session.add(QuizAssignTurn(quiz_id=quiz.id, company_id=quiz.company_id, turn=0))
    session.flush()
