"""Companies have a country: the region their phone numbers are read in when typed
without a country code; empty means the installation's ``orbitflow.default_phone_region``.

Revision ID: 0016_company_locale
Revises: 0015_company_time_zone
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0016_company_locale"
down_revision = "0015_company_time_zone"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_region", sa.String(length=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.drop_column("phone_region")
