"""Index covering the pipeline board's per-stage counts and value totals.

Revision ID: 0003_leads
Revises: 0002_leads
Create Date: 2026-11-26 14:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0003_leads"
down_revision = "0002_leads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_leads_company_stage_owner_value", ["company_id", "stage_id", "owner_id", "value"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_company_stage_owner_value")
