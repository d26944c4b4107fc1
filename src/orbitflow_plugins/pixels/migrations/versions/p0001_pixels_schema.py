"""Pixels schema: per-company settings, quizzes switched off, visitor attribution.

Revision ID: p0001
Revises:
Depends on: q0001
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "p0001"
down_revision = None
branch_labels = ("pixels",)
# The attribution rows refer to quizzes and submissions: the quiz plugin's tables.
depends_on = "q0001"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _company(table: str) -> list:
    return [
        sa.Column("company_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f(f"fk_{table}_company_id_companies"), ondelete="CASCADE"
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "pixel_settings",
        sa.Column("id", ID, nullable=False),
        sa.Column("facebook_pixel_id", sa.String(length=20), nullable=True),
        sa.Column("facebook_access_token", sa.Text(), nullable=True),
        sa.Column("tiktok_pixel_code", sa.String(length=40), nullable=True),
        sa.Column("tiktok_access_token", sa.Text(), nullable=True),
        sa.Column("test_event_code", sa.String(length=40), nullable=True),
        sa.Column("require_consent", sa.Boolean(), nullable=False),
        sa.Column("meta_won_event", sa.String(length=40), nullable=False),
        sa.Column("tiktok_won_event", sa.String(length=40), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("failure_warned_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        *_company("pixel_settings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pixel_settings")),
        sa.UniqueConstraint("company_id", name="uq_pixel_settings_company"),
    )
    op.create_index(op.f("ix_pixel_settings_company_id"), "pixel_settings", ["company_id"], unique=False)

    op.create_table(
        "pixel_quiz_off",
        sa.Column("id", ID, nullable=False),
        sa.Column("quiz_id", ID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        *_company("pixel_quiz_off"),
        sa.ForeignKeyConstraint(
            ["quiz_id"], ["quizzes.id"], name=op.f("fk_pixel_quiz_off_quiz_id_quizzes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pixel_quiz_off")),
        sa.UniqueConstraint("quiz_id", name="uq_pixel_quiz_off_quiz"),
    )
    op.create_index(op.f("ix_pixel_quiz_off_company_id"), "pixel_quiz_off", ["company_id"], unique=False)

    op.create_table(
        "pixel_attributions",
        sa.Column("id", ID, nullable=False),
        sa.Column("quiz_id", ID, nullable=False),
        sa.Column("submission_id", ID, nullable=False),
        sa.Column("lead_id", ID, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("fbc", sa.String(length=600), nullable=True),
        sa.Column("fbp", sa.String(length=200), nullable=True),
        sa.Column("ttp", sa.String(length=200), nullable=True),
        sa.Column("ttclid", sa.String(length=500), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("page_url", sa.String(length=2000), nullable=True),
        sa.Column("won_reported_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        *_company("pixel_attributions"),
        sa.ForeignKeyConstraint(
            ["quiz_id"], ["quizzes.id"], name=op.f("fk_pixel_attributions_quiz_id_quizzes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["quiz_submissions.id"],
            name=op.f("fk_pixel_attributions_submission_id_quiz_submissions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_pixel_attributions_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pixel_attributions")),
        sa.UniqueConstraint("submission_id", name="uq_pixel_attributions_submission"),
    )
    op.create_index(op.f("ix_pixel_attributions_company_id"), "pixel_attributions", ["company_id"], unique=False)
    op.create_index(op.f("ix_pixel_attributions_lead_id"), "pixel_attributions", ["lead_id"], unique=False)


def downgrade() -> None:
    op.drop_table("pixel_attributions")
    op.drop_table("pixel_quiz_off")
    op.drop_table("pixel_settings")
