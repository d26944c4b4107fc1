"""Two-factor sign-in: TOTP secrets, recovery codes, second-step challenges, the company's
requirement and the sessions waiting for enrolment.

Revision ID: 0014_two_factor
Revises: 0004_user_sessions
Create Date: 2026-12-02 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0014_two_factor"
down_revision = "0004_user_sessions"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _owned_columns(table: str) -> list:
    """id, user_id and company_id, with the keys every tenant-owned table of a user has."""
    return [
        sa.Column("id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("company_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f(f"fk_{table}_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def upgrade() -> None:
    op.create_table(
        "two_factor_secrets",
        *_owned_columns("two_factor_secrets"),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_step", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("user_id", name=op.f("uq_two_factor_secrets_user_id")),
    )
    with op.batch_alter_table("two_factor_secrets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_two_factor_secrets_company_id"), ["company_id"], unique=False)

    op.create_table(
        "two_factor_recovery_codes",
        *_owned_columns("two_factor_recovery_codes"),
        sa.Column("code_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
    )
    with op.batch_alter_table("two_factor_recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_two_factor_recovery_codes_company_id"), ["company_id"], unique=False)
        batch_op.create_index("ix_two_factor_recovery_codes_user_id_used_at", ["user_id", "used_at"], unique=False)

    op.create_table(
        "two_factor_challenges",
        *_owned_columns("two_factor_challenges"),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("next_url", sa.String(length=500), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("token_hash", name=op.f("uq_two_factor_challenges_token_hash")),
    )
    with op.batch_alter_table("two_factor_challenges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_two_factor_challenges_company_id"), ["company_id"], unique=False)
        batch_op.create_index("ix_two_factor_challenges_user_id", ["user_id"], unique=False)

    # Plain ADD / DROP COLUMN, never batch mode: on SQLite batch mode rebuilds the table,
    # and dropping the old companies (or user_sessions) table cascades to their rows.
    op.add_column("companies", sa.Column("require_two_factor", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column(
        "user_sessions", sa.Column("needs_two_factor", sa.Boolean(), server_default=sa.false(), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("user_sessions", "needs_two_factor")
    op.drop_column("companies", "require_two_factor")

    # Dropping a table drops its indexes (MariaDB refuses to drop one a foreign key uses).
    for table in ("two_factor_challenges", "two_factor_recovery_codes", "two_factor_secrets"):
        op.drop_table(table)
