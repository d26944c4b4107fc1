"""Migration a0003 gives every lead's fact its UTM medium and content and its first
activity (built from the rows present), and goes down and up again."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from sqlalchemy import inspect, select

from orbitflow.accounts.models import User
from orbitflow.config import load_settings
from orbitflow.db import make_engine, make_session_factory, unscoped
from orbitflow.leads.models import LeadActivity
from orbitflow.leads.services import add_note, create_lead
from orbitflow.migrations import alembic_config, upgrade_to_heads
from orbitflow.tenants.services import create_company
from orbitflow_plugins.analytics.models import LeadFact

NEW_COLUMNS = {"utm_medium", "utm_content", "first_activity_at"}


@pytest.fixture
def database_url(backend_name, request, tmp_path) -> str:
    if backend_name == "sqlite":
        return f"sqlite:///{tmp_path / 'orbitflow.sqlite'}"
    return request.getfixturevalue("new_mariadb_database")()


def test_the_migration_backfills_the_facts_and_goes_down_and_up(database_url):
    settings = load_settings(
        {
            "sqlalchemy.url": database_url,
            "orbitflow.auth_secret": "s" * 40,
            "orbitflow.plugins": "quiz pixels analytics",
        },
        environ={},
    )
    engine = make_engine(settings.database)
    try:
        cfg = alembic_config(settings, engine)
        upgrade_to_heads(cfg)
        # Rows written without the app: no fact yet.
        session = make_session_factory(engine)()
        with unscoped(session):
            company = create_company(session, name="Before", subscription_id="before", time_zone="UTC")
            session.flush()
            user = User(company_id=company.id, username="olga", name="Olga", role="OWNER", password_hash="x")
            session.add(user)
            session.flush()
            created = datetime(2026, 11, 10, 9, 0)
            lead = create_lead(
                session,
                company_id=company.id,
                actor_id=user.id,
                name="Old lead",
                owner_id=user.id,
                utm={"source": "facebook", "medium": "cpc", "content": "video"},
                created_at=created,
            )
            add_note(session, lead, "Called", actor_id=user.id)
            session.flush()
            note_line = session.scalars(select(LeadActivity).where(LeadActivity.kind == "note")).one()
            note_line.created_at = datetime(2026, 11, 10, 9, 45)
            session.commit()
            lead_id = lead.id
        session.close()

        command.downgrade(cfg, "a0002")
        assert not NEW_COLUMNS & {c["name"] for c in inspect(engine).get_columns("analytics_lead_facts")}
        upgrade_to_heads(cfg)
        assert {c["name"] for c in inspect(engine).get_columns("analytics_lead_facts")} >= NEW_COLUMNS
        with engine.connect() as connection:
            columns = (LeadFact.utm_medium, LeadFact.utm_content, LeadFact.created_at, LeadFact.first_activity_at)
            fact = connection.execute(select(*columns).where(LeadFact.lead_id == lead_id)).one()
        assert tuple(fact) == ("cpc", "video", created, datetime(2026, 11, 10, 9, 45))
    finally:
        engine.dispose()
