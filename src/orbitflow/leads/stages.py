"""Pipeline stages of a company."""

from __future__ import annotations

from sqlalchemy.orm import Session

from orbitflow.leads.models import Stage

DEFAULT_STAGES = (
    ("New", "#6366f1", "open"),
    ("Contacted", "#0ea5e9", "open"),
    ("Qualified", "#14b8a6", "open"),
    ("Proposal", "#f59e0b", "open"),
    ("Won", "#22c55e", "won"),
    ("Lost", "#ef4444", "lost"),
)


def create_default_stages(session: Session, company_id: int) -> list[Stage]:
    stages = [
        Stage(company_id=company_id, name=name, color=color, kind=kind, position=index)
        for index, (name, color, kind) in enumerate(DEFAULT_STAGES)
    ]
    session.add_all(stages)
    return stages
