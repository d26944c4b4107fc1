"""The super admin's platform overview: companies, active users, and leads and quiz
submissions per day across every company (UTC days)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User, UserSession
from orbitflow.db import unscoped
from orbitflow.leads.models import Lead
from orbitflow.models.meta import utcnow
from orbitflow.tenants.models import PLATFORM_SUBSCRIPTION_ID, Company
from orbitflow_plugins.quiz.models import QuizSubmission

DAYS = 30
ACTIVE_DAYS = 30


def _per_day(session: Session, column, since) -> dict[date, int]:
    day = func.date(column)
    rows = session.execute(select(day, func.count()).where(column >= since).group_by(day)).all()
    return {(value if isinstance(value, date) else date.fromisoformat(str(value))): int(n) for value, n in rows}


def overview(session: Session) -> dict[str, Any]:
    """Crosses tenants on purpose: the platform's numbers (six statements)."""
    now = utcnow()
    since = (now - timedelta(days=DAYS - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    with unscoped(session):
        tenants = Company.subscription_id != PLATFORM_SUBSCRIPTION_ID
        companies = session.scalar(select(func.count()).select_from(Company).where(tenants)) or 0
        active_companies = (
            session.scalar(select(func.count()).select_from(Company).where(tenants, Company.is_active.is_(True))) or 0
        )
        users = session.scalar(select(func.count()).select_from(User).where(User.is_active.is_(True))) or 0
        active_users = (
            session.scalar(
                select(func.count(func.distinct(UserSession.user_id))).where(
                    UserSession.last_seen_at >= now - timedelta(days=ACTIVE_DAYS)
                )
            )
            or 0
        )
        leads = _per_day(session, Lead.created_at, since)
        submissions = _per_day(session, QuizSubmission.created_at, since)
    days = [since.date() + timedelta(days=i) for i in range(DAYS)]
    return {
        "companies": companies,
        "active_companies": active_companies,
        "users": users,
        "active_users": active_users,
        "active_days": ACTIVE_DAYS,
        "days": [{"day": d.isoformat(), "leads": leads.get(d, 0), "submissions": submissions.get(d, 0)} for d in days],
    }


@view_config(route_name="admin_platform_overview", renderer="analytics_platform.jinja2", permission="platform.admin")
def platform_overview(request: Request):
    data = overview(request.dbsession)
    charts = {
        "platform_days": {
            "type": "line",
            "labels": [d["day"] for d in data["days"]],
            "series": {
                "Leads": [d["leads"] for d in data["days"]],
                "Quiz submissions": [d["submissions"] for d in data["days"]],
            },
        }
    }
    return {"section": "overview", **data, "charts": charts}
