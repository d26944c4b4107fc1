"""Analytics: lead stage history (backfilled from the lead timeline), one fact row per
lead, daily lead and funnel counts (built from the rows present by a0003).

Revision ID: a0001
Revises:
Depends on: 0015_company_time_zone, q0003_funnel_device
Create Date: 2026-12-02 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0001"
down_revision = None
branch_labels = ("analytics",)
depends_on = ("0015_company_time_zone", "q0003_funnel_device")

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _company(table: str) -> list:
    return [
        sa.Column("company_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f(f"fk_{table}_company_id_companies"), ondelete="CASCADE"
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "lead_stage_history",
        sa.Column("id", BigId, nullable=False),
        sa.Column("lead_id", BigId, nullable=False),
        sa.Column("stage_id", BigId, nullable=True),
        sa.Column("stage_kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        *_company("lead_stage_history"),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_stage_history_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"], ["stages.id"], name=op.f("fk_lead_stage_history_stage_id_stages"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_stage_history")),
    )
    with op.batch_alter_table("lead_stage_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_stage_history_company_id"), ["company_id"], unique=False)
        batch_op.create_index(
            "ix_lead_stage_history_company_lead_entered", ["company_id", "lead_id", "entered_at"], unique=False
        )
        batch_op.create_index(
            "ix_lead_stage_history_company_stage_entered", ["company_id", "stage_id", "entered_at"], unique=False
        )

    op.create_table(
        "analytics_lead_facts",
        sa.Column("lead_id", BigId, autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("quiz_id", BigId, nullable=False),
        sa.Column("utm_source", sa.String(length=200), nullable=False),
        sa.Column("utm_campaign", sa.String(length=200), nullable=False),
        sa.Column("owner_id", BigId, nullable=False),
        sa.Column("won_at", sa.DateTime(), nullable=True),
        sa.Column("won_day", sa.Date(), nullable=True),
        sa.Column("won_value", sa.Numeric(precision=16, scale=2), nullable=False),
        *_company("analytics_lead_facts"),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_analytics_lead_facts")),
    )
    with op.batch_alter_table("analytics_lead_facts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_analytics_lead_facts_company_day_owner", ["company_id", "day", "owner_id"], unique=False
        )
        batch_op.create_index(
            "ix_analytics_lead_facts_company_won_day_owner", ["company_id", "won_day", "owner_id"], unique=False
        )

    op.create_table(
        "analytics_lead_daily",
        sa.Column("id", BigId, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("quiz_id", BigId, nullable=False),
        sa.Column("utm_source", sa.String(length=200), nullable=False),
        sa.Column("utm_campaign", sa.String(length=200), nullable=False),
        sa.Column("leads", sa.Integer(), nullable=False),
        sa.Column("won", sa.Integer(), nullable=False),
        sa.Column("won_value", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("cohort_won", sa.Integer(), nullable=False),
        *_company("analytics_lead_daily"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_lead_daily")),
        sa.UniqueConstraint(
            "company_id", "day", "source", "quiz_id", "utm_source", "utm_campaign", name="uq_analytics_lead_daily_key"
        ),
    )

    op.create_table(
        "analytics_funnel_daily",
        sa.Column("id", BigId, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("quiz_id", BigId, nullable=False),
        sa.Column("question_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("device", sa.String(length=8), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        *_company("analytics_funnel_daily"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_funnel_daily")),
        sa.UniqueConstraint(
            "company_id", "day", "quiz_id", "question_id", "kind", "device", name="uq_analytics_funnel_daily_key"
        ),
    )
    with op.batch_alter_table("analytics_funnel_daily", schema=None) as batch_op:
        batch_op.create_index(
            "ix_analytics_funnel_daily_company_quiz_day", ["company_id", "quiz_id", "day"], unique=False
        )

    # The facts and counts are built by a0003, once the facts have all their columns.
    _history_from_timeline(op.get_bind())


def _history_from_timeline(connection) -> None:
    """Each lead entered its first stage when it was created (the "from" of its first
    "moved" line, else its stage now) and each stage a "moved" line took it to. The value
    then is not on the timeline: the lead's value now stands in for it."""
    leads = sa.table(
        "leads",
        sa.column("id"),
        sa.column("company_id"),
        sa.column("stage_id"),
        sa.column("value"),
        sa.column("created_at"),
    )
    activity = sa.table(
        "lead_activity",
        sa.column("id"),
        sa.column("lead_id"),
        sa.column("kind"),
        sa.column("data", sa.JSON),
        sa.column("created_at"),
    )
    stages = sa.table("stages", sa.column("id"), sa.column("kind"))
    history = sa.table(
        "lead_stage_history",
        sa.column("lead_id"),
        sa.column("company_id"),
        sa.column("stage_id"),
        sa.column("stage_kind"),
        sa.column("value"),
        sa.column("entered_at"),
    )
    kinds = dict(connection.execute(sa.select(stages.c.id, stages.c.kind)).all())
    moves: dict[int, list] = {}
    for lead_id, data, created_at in connection.execute(
        sa.select(activity.c.lead_id, activity.c.data, activity.c.created_at)
        .where(activity.c.kind == "moved")
        .order_by(activity.c.created_at, activity.c.id)
    ):
        moves.setdefault(lead_id, []).append((data or {}, created_at))
    rows = []
    for lead_id, company_id, stage_id, value, created_at in connection.execute(
        sa.select(leads.c.id, leads.c.company_id, leads.c.stage_id, leads.c.value, leads.c.created_at)
    ):
        steps = moves.get(lead_id, [])
        first = steps[0][0].get("from_id") if steps else stage_id
        entries = [(first if first in kinds else stage_id, created_at)]
        entries += [(data.get("to_id"), at) for data, at in steps]
        for entered_stage, at in entries:
            known = entered_stage in kinds
            rows.append(
                {
                    "lead_id": lead_id,
                    "company_id": company_id,
                    "stage_id": entered_stage if known else None,
                    "stage_kind": kinds.get(entered_stage, "open"),
                    "value": value,
                    "entered_at": at,
                }
            )
    for start in range(0, len(rows), 1000):
        connection.execute(sa.insert(history), rows[start : start + 1000])


def downgrade() -> None:
    for table in ("analytics_funnel_daily", "analytics_lead_daily", "analytics_lead_facts", "lead_stage_history"):
        op.drop_table(table)
