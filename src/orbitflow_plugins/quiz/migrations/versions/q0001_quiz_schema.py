"""Quiz schema: quizzes, questions, options, outcomes, submissions, funnel events.

Revision ID: q0001
Revises:
Depends on: 0001
Create Date: 2026-11-25 20:08:44.383754
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "q0001"
down_revision = None
branch_labels = ("quiz",)
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "quiz_contact_keys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_quiz_contact_keys_company_id_companies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_contact_keys")),
        sa.UniqueConstraint("company_id", "email_hash", name="uq_quiz_contact_keys_company_email"),
    )
    with op.batch_alter_table("quiz_contact_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quiz_contact_keys_company_id"), ["company_id"], unique=False)

    op.create_table(
        "quizzes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("intro", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("brand_color", sa.String(length=7), nullable=False),
        sa.Column("logo_url", sa.String(length=500), nullable=True),
        sa.Column("contact_name", sa.String(length=8), nullable=False),
        sa.Column("contact_email", sa.String(length=8), nullable=False),
        sa.Column("contact_phone", sa.String(length=8), nullable=False),
        sa.Column("consent_enabled", sa.Boolean(), nullable=False),
        sa.Column("consent_text", sa.String(length=300), nullable=False),
        sa.Column("thank_you_message", sa.Text(), nullable=False),
        sa.Column("redirect_url", sa.String(length=1000), nullable=True),
        sa.Column("created_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_quizzes_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_quizzes_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quizzes")),
        sa.UniqueConstraint("company_id", "slug", name="uq_quizzes_company_slug"),
    )
    with op.batch_alter_table("quizzes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quizzes_company_id"), ["company_id"], unique=False)
        batch_op.create_index("ix_quizzes_company_status", ["company_id", "status"], unique=False)

    op.create_table(
        "quiz_outcomes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quiz_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("min_score", sa.Integer(), nullable=True),
        sa.Column("max_score", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_quiz_outcomes_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["quiz_id"], ["quizzes.id"], name=op.f("fk_quiz_outcomes_quiz_id_quizzes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_outcomes")),
    )
    with op.batch_alter_table("quiz_outcomes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quiz_outcomes_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_quiz_outcomes_quiz_id"), ["quiz_id"], unique=False)

    op.create_table(
        "quiz_questions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quiz_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("help_text", sa.String(length=500), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("min_value", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("max_value", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("scored", sa.Boolean(), nullable=False),
        sa.Column("company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_quiz_questions_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["quiz_id"], ["quizzes.id"], name=op.f("fk_quiz_questions_quiz_id_quizzes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_questions")),
    )
    with op.batch_alter_table("quiz_questions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quiz_questions_company_id"), ["company_id"], unique=False)
        batch_op.create_index("ix_quiz_questions_quiz_position", ["quiz_id", "position"], unique=False)

    op.create_table(
        "quiz_funnel_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quiz_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("session_key", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("question_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("utm_source", sa.String(length=200), nullable=True),
        sa.Column("utm_medium", sa.String(length=200), nullable=True),
        sa.Column("utm_campaign", sa.String(length=200), nullable=True),
        sa.Column("ip_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_quiz_funnel_events_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["quiz_questions.id"],
            name=op.f("fk_quiz_funnel_events_question_id_quiz_questions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["quiz_id"], ["quizzes.id"], name=op.f("fk_quiz_funnel_events_quiz_id_quizzes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_funnel_events")),
    )
    with op.batch_alter_table("quiz_funnel_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quiz_funnel_company_quiz_kind_created", ["company_id", "quiz_id", "kind", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_quiz_funnel_events_company_id"), ["company_id"], unique=False)
        batch_op.create_index("ix_quiz_funnel_session", ["session_key"], unique=False)

    op.create_table(
        "quiz_options",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("question_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_quiz_options_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["quiz_questions.id"],
            name=op.f("fk_quiz_options_question_id_quiz_questions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_options")),
    )
    with op.batch_alter_table("quiz_options", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quiz_options_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_quiz_options_question_id"), ["question_id"], unique=False)

    op.create_table(
        "quiz_submissions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quiz_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lead_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_lead", sa.Boolean(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("contact", sa.JSON(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("outcome_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("outcome_title", sa.String(length=200), nullable=True),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("utm_source", sa.String(length=200), nullable=True),
        sa.Column("utm_medium", sa.String(length=200), nullable=True),
        sa.Column("utm_campaign", sa.String(length=200), nullable=True),
        sa.Column("utm_term", sa.String(length=200), nullable=True),
        sa.Column("utm_content", sa.String(length=200), nullable=True),
        sa.Column("referrer", sa.String(length=1000), nullable=True),
        sa.Column("click_ids", sa.JSON(), nullable=True),
        sa.Column("ip_hash", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("fill_seconds", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_quiz_submissions_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_quiz_submissions_lead_id_leads"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["outcome_id"],
            ["quiz_outcomes.id"],
            name=op.f("fk_quiz_submissions_outcome_id_quiz_outcomes"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["quiz_id"], ["quizzes.id"], name=op.f("fk_quiz_submissions_quiz_id_quizzes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_submissions")),
        sa.UniqueConstraint("token", name="uq_quiz_submissions_token"),
    )
    with op.batch_alter_table("quiz_submissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quiz_submissions_company_id"), ["company_id"], unique=False)
        batch_op.create_index(
            "ix_quiz_submissions_company_quiz_created", ["company_id", "quiz_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_quiz_submissions_lead_id"), ["lead_id"], unique=False)


def downgrade() -> None:
    # A table's indexes go with it: dropping one first fails on MariaDB when it serves a foreign key.
    op.drop_table("quiz_submissions")
    op.drop_table("quiz_options")
    op.drop_table("quiz_funnel_events")
    op.drop_table("quiz_questions")
    op.drop_table("quiz_outcomes")
    op.drop_table("quizzes")
    op.drop_table("quiz_contact_keys")
