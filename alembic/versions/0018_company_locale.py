"""Companies have a country: the region their phone numbers are read in when typed
without a country code; empty means the installation's ``orbitflow.default_phone_region``.

Revision ID: 0018_company_locale
Revises: 0017_webhook_secrets_encrypted
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0018_company_locale"
down_revision = "0017_webhook_secrets_encrypted"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("companies", sa.Column("phone_region", sa.String(length=2), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+, MariaDB): batch mode would rebuild the table on
    # SQLite, and dropping the old companies table cascades to every company's rows.
    op.drop_column("companies", "phone_region")
