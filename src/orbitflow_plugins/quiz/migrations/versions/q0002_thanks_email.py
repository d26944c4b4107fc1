"""Quizzes may e-mail their visitors the thank-you message (off by default).

Revision ID: q0002_thanks_email
Revises: q0001
Create Date: 2026-12-02 08:19:35
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "q0002_thanks_email"
down_revision = "q0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quizzes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thank_you_email", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("quizzes", schema=None) as batch_op:
        batch_op.drop_column("thank_you_email")
