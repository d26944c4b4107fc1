"""Analytics: each lead's fact also holds its UTM medium and content and when a person
first worked on it (the owners table's median time to first activity, the UTM medium and
content breakdowns), with the indexes those reports read; the facts and counts are
rebuilt so every lead has them.

The counts are built here, not by a0001 (which only backfills the stage history): the
rebuild writes the facts as the models describe them, so it runs in the migration that
gives the facts their newest columns. A later migration that adds fact columns moves the
rebuild there.

Revision ID: a0003
Revises: a0002
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0003"
down_revision = "a0002"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column]:
    return [
        sa.Column("utm_medium", sa.String(length=200), server_default="", nullable=False),
        sa.Column("utm_content", sa.String(length=200), server_default="", nullable=False),
        sa.Column("first_activity_at", sa.DateTime(), nullable=True),
    ]


INDEXES = (
    (
        "ix_analytics_lead_facts_company_day_owner_activity",
        ["company_id", "day", "owner_id", "created_at", "first_activity_at"],
    ),
    ("ix_analytics_lead_facts_company_day_utm_detail", ["company_id", "day", "utm_medium", "utm_content"]),
    (
        "ix_analytics_lead_facts_company_won_day_utm_detail",
        ["company_id", "won_day", "utm_medium", "utm_content", "won_value"],
    ),
)


def upgrade() -> None:
    with op.batch_alter_table("analytics_lead_facts", schema=None) as batch_op:
        for column in _columns():
            batch_op.add_column(column)
    with op.batch_alter_table("analytics_lead_facts", schema=None) as batch_op:
        for name, columns in INDEXES:
            batch_op.create_index(name, columns, unique=False)
    from orbitflow_plugins.analytics.rebuild import rebuild

    rebuild(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("analytics_lead_facts", schema=None) as batch_op:
        for name, _indexed in INDEXES:
            batch_op.drop_index(name)
    with op.batch_alter_table("analytics_lead_facts", schema=None) as batch_op:
        for column in reversed(_columns()):
            batch_op.drop_column(column.name)
