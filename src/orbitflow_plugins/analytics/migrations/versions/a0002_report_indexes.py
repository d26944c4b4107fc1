"""Analytics: indexes that hold every column a report reads, so each report is one range
read of an index (no lookup of the table row per day or per lead).

- ``analytics_lead_daily``: the company's days with their dimensions and counts (the
  dashboard's series and breakdowns);
- ``analytics_funnel_daily``: by company, step (question 0) and day (the dashboard's quiz
  steps), and by company, quiz and day (a quiz's funnel; replaces the index without the
  counted columns);
- ``analytics_lead_facts``: the won leads by day with their owner, times and value (the
  owners table and the median days to win; replaces the index without them);
- ``quiz_submissions``: a quiz's submissions by time with their fill time (the median
  time to complete).

Revision ID: a0002
Revises: a0001
Create Date: 2026-12-02 18:50:00
"""

from __future__ import annotations

from alembic import op

revision = "a0002"
down_revision = "a0001"
branch_labels = None
depends_on = None

INDEXES = (
    (
        "analytics_lead_daily",
        "ix_analytics_lead_daily_company_day_counts",
        [
            "company_id",
            "day",
            "source",
            "quiz_id",
            "utm_source",
            "utm_campaign",
            "leads",
            "won",
            "won_value",
            "cohort_won",
        ],
    ),
    (
        "analytics_funnel_daily",
        "ix_analytics_funnel_daily_company_question_day_counts",
        ["company_id", "question_id", "day", "quiz_id", "kind", "events"],
    ),
    (
        "analytics_funnel_daily",
        "ix_analytics_funnel_daily_company_quiz_day_counts",
        ["company_id", "quiz_id", "day", "question_id", "kind", "device", "events"],
    ),
    (
        "analytics_lead_facts",
        "ix_analytics_lead_facts_company_won_day_owner_times",
        ["company_id", "won_day", "owner_id", "created_at", "won_at", "won_value"],
    ),
    (
        "quiz_submissions",
        "ix_quiz_submissions_company_quiz_created_fill",
        ["company_id", "quiz_id", "created_at", "fill_seconds"],
    ),
)
REPLACED = (
    ("analytics_funnel_daily", "ix_analytics_funnel_daily_company_quiz_day", ["company_id", "quiz_id", "day"]),
    (
        "analytics_lead_facts",
        "ix_analytics_lead_facts_company_won_day_owner",
        ["company_id", "won_day", "owner_id"],
    ),
)


def upgrade() -> None:
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)
    for table, name, _columns in REPLACED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)


def downgrade() -> None:
    for table, name, columns in REPLACED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)
    for table, name, _columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
