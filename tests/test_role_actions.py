"""Who may do what, action by action, for every role of a company: bulk delete, bulk
reassign, assignment, stage edits and quiz status changes.

The expected answers are the table below, written from the roles the README describes, not
read from the app's permission table: the walk in accounts/test_rbac.py checks each view's
declared permission; this checks what the views do inside, and reads the database back."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from orbitflow.leads.models import Lead, Stage
from orbitflow_plugins.quiz.models import Quiz
from support import csrf_token

sys.path.insert(0, str(Path(__file__).resolve().parent / "quiz"))

from quizkit import FULL_QUIZ, make_quiz

ROLES = ("OWNER", "ADMIN", "MANAGER", "AGENT", "VIEWER")
MANAGERS = {"OWNER", "ADMIN", "MANAGER"}
ADMINS = {"OWNER", "ADMIN"}

# action -> the roles that may do it.
MAY = {
    "bulk delete": MANAGERS,
    "bulk reassign": MANAGERS,
    "assign to a colleague": MANAGERS,
    "take an unassigned lead": MANAGERS | {"AGENT"},
    "add a stage": ADMINS,
    "rename a stage": ADMINS,
    "remove a stage": ADMINS,
    "publish a quiz": MANAGERS,
    "unpublish a quiz": MANAGERS,
    "archive a quiz": MANAGERS,
    "restore a quiz": MANAGERS,
}


class World:
    """A company with a user of each role, a colleague to assign to, two unassigned leads,
    an empty extra stage and, for the quiz actions, a quiz in each status."""

    def __init__(self, db, make_company, make_user, *, quizzes: bool):
        self.company = make_company(name="Matrix Co")
        self.users = {role: make_user(self.company, role, username=role.lower()) for role in ROLES}
        self.colleague = make_user(self.company, "AGENT", username="sam")
        self.stages = list(
            db.scalars(select(Stage).where(Stage.company_id == self.company.id).order_by(Stage.position))
        )
        self.spare = Stage(company_id=self.company.id, name="Spare", position=99_000, color="#888888", kind="open")
        db.add(self.spare)
        self.leads = [
            Lead(company_id=self.company.id, name=name, stage_id=self.stages[0].id, position=n * 1024)
            for n, name in enumerate(("Ada", "Bob"))
        ]
        db.add_all(self.leads)
        db.commit()
        if quizzes:
            self.add_quizzes(db)

    def add_quizzes(self, db) -> None:
        self.quizzes = {
            "draft": make_quiz(db, self.company, _spec("draft"), publish=False),
            "published": make_quiz(db, self.company, _spec("published")),
            "archived": make_quiz(db, self.company, _spec("archived"), publish=False),
        }
        archived = self.quizzes["archived"]
        archived.status = "archived"
        db.commit()


def _spec(slug: str) -> dict:
    return {**FULL_QUIZ, "title": f"Quiz {slug}", "slug": f"quiz-{slug}"}


def _bulk(client, world, action: str, **fields):
    data = {
        "csrf_token": csrf_token(client),
        "action": action,
        "ids": [str(lead.id) for lead in world.leads],
        "confirm": "yes",
        **fields,
    }
    return client.post("/leads/bulk", data, status="*")


def _api(client, method: str, url: str, body=None):
    headers = {"X-CSRF-Token": csrf_token(client), "Accept": "application/json"}
    call = {"POST": client.post_json, "PATCH": client.patch_json}.get(method)
    if call is None:
        return client.delete(url, headers=headers, status="*")
    return call(url, body, headers=headers, status="*")


def _quiz_state(client, world, action: str, status: str):
    quiz = world.quizzes[status]
    return client.post(f"/quizzes/{quiz.id}/state/{action}", {"csrf_token": csrf_token(client)}, status="*")


def _owners(db, world) -> list[int | None]:
    db.expire_all()
    return [db.get(Lead, lead.id).owner_id for lead in world.leads]


def _count(db, model, *where) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def _quiz_status(db, world, status: str) -> str:
    db.expire_all()
    return db.get(Quiz, world.quizzes[status].id).status


# action -> (do it as ``client``, did it happen?)
ACTIONS = {
    "bulk delete": (
        lambda c, w: _bulk(c, w, "delete"),
        lambda db, w: _count(db, Lead) == 0,
    ),
    "bulk reassign": (
        lambda c, w: _bulk(c, w, "assign", owner_id=str(w.colleague.id)),
        lambda db, w: _owners(db, w) == [w.colleague.id] * 2,
    ),
    "assign to a colleague": (
        lambda c, w: _api(c, "PATCH", f"/api/v1/leads/{w.leads[0].id}", {"version": 1, "owner_id": w.colleague.id}),
        lambda db, w: _owners(db, w)[0] == w.colleague.id,
    ),
    "take an unassigned lead": (
        lambda c, w: _api(c, "PATCH", f"/api/v1/leads/{w.leads[0].id}", {"version": 1, "owner_id": w.actor.id}),
        lambda db, w: _owners(db, w)[0] == w.actor.id,
    ),
    "add a stage": (
        lambda c, w: _api(c, "POST", "/api/v1/stages", {"name": "Negotiation"}),
        lambda db, w: db.scalars(select(Stage).where(Stage.name == "Negotiation")).first() is not None,
    ),
    "rename a stage": (
        lambda c, w: c.post(
            f"/pipeline/stages/{w.spare.id}", {"csrf_token": csrf_token(c), "name": "Renamed"}, status="*"
        ),
        lambda db, w: (db.expire_all(), db.get(Stage, w.spare.id).name)[1] == "Renamed",
    ),
    "remove a stage": (
        lambda c, w: _api(c, "DELETE", f"/api/v1/stages/{w.spare.id}"),
        lambda db, w: _count(db, Stage, Stage.name == "Spare") == 0,
    ),
    "publish a quiz": (
        lambda c, w: _quiz_state(c, w, "publish", "draft"),
        lambda db, w: _quiz_status(db, w, "draft") == "published",
    ),
    "unpublish a quiz": (
        lambda c, w: _quiz_state(c, w, "unpublish", "published"),
        lambda db, w: _quiz_status(db, w, "published") == "unpublished",
    ),
    "archive a quiz": (
        lambda c, w: _quiz_state(c, w, "archive", "published"),
        lambda db, w: _quiz_status(db, w, "published") == "archived",
    ),
    "restore a quiz": (
        lambda c, w: _quiz_state(c, w, "restore", "archived"),
        lambda db, w: _quiz_status(db, w, "archived") == "draft",
    ),
}
assert set(ACTIONS) == set(MAY)


def _refused(response) -> bool:
    """A refusal a person can read: a 4xx, or a redirect to a page that says why."""
    if 400 <= response.status_int < 500:
        return True
    if response.status_int in (302, 303):
        page = response.follow()
        return page.html.find(class_="flash-error") is not None
    return False


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(MAY))
def test_role_may_or_may_not(testapp, db, make_company, make_user, login_as, unchanged, role, action):
    world = World(db, make_company, make_user, quizzes=action.endswith("a quiz"))
    world.actor = world.users[role]
    login_as(world.actor)
    do, happened = ACTIONS[action]
    if role in MAY[action]:
        response = do(testapp, world)
        assert response.status_int < 400, response.text[:300]
        assert happened(db, world), f"{role} could not {action}"
    else:
        with unchanged():
            response = do(testapp, world)
        assert _refused(response), f"{role}: {action} answered {response.status} without saying why"
        assert not happened(db, world)
