"""E-mail notification choices of each user.

Revision ID: 0012_notifications
Revises: 0011_webhooks
Create Date: 2026-12-02 07:32:59.438774
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0012_notifications"
down_revision = "0011_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lead_emails", sa.Boolean(), nullable=False),
        sa.Column("unassigned_leads", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_notification_settings_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_settings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_settings")),
    )
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_settings_company_id"), ["company_id"], unique=False)


def downgrade() -> None:
    # A table's indexes go with it: dropping one first fails on MariaDB when it serves a foreign key.
    op.drop_table("notification_settings")
