"""Companies have a time zone (IANA name) for their reports; empty means the
installation's ``TZ``.

Revision ID: 0015_company_time_zone
Revises: 0014_two_factor
Create Date: 2026-12-02 14:05:00
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0015_company_time_zone"
down_revision = "0014_two_factor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
