"""``orbitflow analytics-rebuild CONFIG`` as a process on a new SQLite file: leads written
around the lead service get their stage history and count; an unknown company is refused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import create_engine, func, insert, select

from foundation.helpers import ROOT, base_env, nonblank_lines, run
from orbitflow.db import make_session_factory, unscoped
from orbitflow.leads.models import Lead, Stage
from orbitflow.tenants.services import create_company
from orbitflow_plugins.analytics.models import LeadDaily, LeadStageEntry

INI = ROOT / "development.ini"


def orbitflow(tmp_path, *args: str):
    env = base_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'ops.sqlite'}")
    return run(["orbitflow", *args], env, cwd=tmp_path, timeout=300)


def test_rebuild_counts_rows_written_without_the_hooks(tmp_path):
    assert orbitflow(tmp_path, "migrate", str(INI)).returncode == 0
    engine = create_engine(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    session = make_session_factory(engine)()
    with unscoped(session):
        company = create_company(session, name="Raw Co", subscription_id="raw-co", time_zone="Asia/Tokyo")
        session.flush()
        won = session.scalar(select(Stage.id).where(Stage.company_id == company.id, Stage.kind == "won"))
        at = datetime(2026, 11, 30, 16, 0)  # 01:00 on 1 December in Tokyo
        for name in ("A", "B"):
            session.execute(
                insert(Lead).values(
                    company_id=company.id,
                    name=name,
                    source="import",
                    stage_id=won,
                    value=40,
                    created_at=at,
                    updated_at=at,
                )
            )
        session.commit()
        company_id = company.id
    session.close()

    result = orbitflow(tmp_path, "analytics-rebuild", str(INI), "--company", "raw-co")
    assert result.returncode == 0, result.stderr
    assert nonblank_lines(result.stdout) == ["raw-co: 2 leads, 0 funnel events counted"]
    with engine.connect() as connection:
        rows = connection.execute(
            select(LeadDaily.day, LeadDaily.leads, LeadDaily.won, LeadDaily.won_value).where(
                LeadDaily.company_id == company_id
            )
        ).all()
        history = connection.scalar(select(func.count()).select_from(LeadStageEntry))
    engine.dispose()
    assert [(str(day), leads, won, float(value)) for day, leads, won, value in rows] == [("2026-12-01", 2, 2, 80.0)]
    assert history == 2

    unknown = orbitflow(tmp_path, "analytics-rebuild", str(INI), "--company", "nope")
    assert unknown.returncode == 2
    assert nonblank_lines(unknown.stderr)[-1] == "orbitflow: no company with subscription ID 'nope'"
