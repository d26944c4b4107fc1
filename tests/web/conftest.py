"""A company with an owner, a published quiz, a stage and a lead: what hostile requests aim at."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from orbitflow.accounts.models import User
from orbitflow.leads.models import Lead, Stage
from orbitflow.models.meta import Base
from orbitflow.shared import shared
from orbitflow.tenants.models import Company
from orbitflow_plugins.quiz.models import Quiz
from orbitflow_plugins.quiz.recorder import FunnelRecorder
from quiz.quizkit import make_quiz


@dataclass
class World:
    company: Company
    owner: User
    quiz: Quiz
    stage: Stage
    lead: Lead

    def fill(self, path: str) -> str:
        return path.format(sub=self.company.subscription_id, slug=self.quiz.slug, quiz=self.quiz.id)


@pytest.fixture
def world(wsgi_app, db, make_company, make_user):
    company = make_company(name="Demo", subscription_id="demo")
    owner = make_user(company, "OWNER", username="olivia")
    quiz = make_quiz(db, company)
    stage = db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)).first()
    lead = Lead(company_id=company.id, name="Walk Lead", stage_id=stage.id)
    db.add(lead)
    db.commit()
    yield World(company, owner, quiz, stage, lead)
    # The quiz pages' funnel events are written before the rows (and the database) go.
    recorder = shared(wsgi_app.registry, FunnelRecorder)
    recorder.flush()
    recorder.forget_steps()


def database_state(db) -> dict[str, Any]:
    """Row counts of every table, and the rows people edit: a request that changed nothing
    leaves this as it was."""
    db.expire_all()
    state: dict[str, Any] = {
        table.name: db.scalar(select(func.count()).select_from(table)) for table in Base.metadata.sorted_tables
    }
    for model in (Lead, Stage, Quiz, User, Company):
        state[f"rows:{model.__tablename__}"] = [
            {column.key: getattr(row, column.key) for column in model.__table__.columns}
            for row in db.scalars(select(model).order_by(model.id))
        ]
    return state


@pytest.fixture
def errors_logged(caplog):
    """The messages logged at ERROR or above so far (a stack trace for the system log is one)."""
    caplog.set_level(logging.WARNING)
    return lambda: [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
