"""Funnel events keep the visitor's device class (mobile, tablet, desktop).

Revision ID: q0003_funnel_device
Revises: q0002_thanks_email
Create Date: 2026-12-02 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "q0003_funnel_device"
down_revision = "q0002_thanks_email"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quiz_funnel_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("quiz_funnel_events", schema=None) as batch_op:
        batch_op.drop_column("device")
