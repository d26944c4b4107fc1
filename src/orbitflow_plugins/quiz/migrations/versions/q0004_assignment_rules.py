"""Quizzes assign the leads they create: no one, round robin among chosen users, or by
outcome; the round robin counts its turns in a row of its own.

Revision ID: q0004_assignment_rules
Revises: q0003_funnel_device
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "q0004_assignment_rules"
down_revision = "q0003_funnel_device"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("quizzes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assign_mode", sa.String(length=12), nullable=False, server_default="none"))
    op.create_table(
        "quiz_assignees",
        sa.Column("id", ID, nullable=False),
        sa.Column("quiz_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("outcome_id", ID, nullable=True),
        sa.Column("company_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_quiz_assignees_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["outcome_id"],
            ["quiz_outcomes.id"],
            name=op.f("fk_quiz_assignees_outcome_id_quiz_outcomes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["quiz_id"], ["quizzes.id"], name=op.f("fk_quiz_assignees_quiz_id_quizzes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_quiz_assignees_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_assignees")),
    )
    with op.batch_alter_table("quiz_assignees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quiz_assignees_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_quiz_assignees_quiz_id"), ["quiz_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_quiz_assignees_user_id"), ["user_id"], unique=False)
    op.create_table(
        "quiz_assign_turns",
        sa.Column("quiz_id", ID, nullable=False),
        sa.Column("turn", sa.BigInteger(), nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_quiz_assign_turns_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["quiz_id"], ["quizzes.id"], name=op.f("fk_quiz_assign_turns_quiz_id_quizzes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("quiz_id", name=op.f("pk_quiz_assign_turns")),
    )
    with op.batch_alter_table("quiz_assign_turns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quiz_assign_turns_company_id"), ["company_id"], unique=False)


def downgrade() -> None:
    op.drop_table("quiz_assign_turns")
    op.drop_table("quiz_assignees")
    with op.batch_alter_table("quizzes", schema=None) as batch_op:
        batch_op.drop_column("assign_mode")
