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
    # Plain ADD / DROP COLUMN: on SQLite batch mode would rebuild the table, and dropping
    # the old companies table cascades to every company's rows.
    op.add_column("companies", sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("companies", "time_zone")
