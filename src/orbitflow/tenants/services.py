"""Creating and changing companies."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orbitflow.leads.stages import create_default_stages
from orbitflow.tenants.models import PLAN_QUOTAS, Company, Plan

SUBSCRIPTION_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


class CompanyError(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def validate_company_fields(
    session: Session,
    *,
    name: str,
    subscription_id: str,
    plan: str,
    company_id: int | None = None,
    max_users: int | None = None,
    max_quizzes: int | None = None,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "Enter the company's name."
    elif len(name.strip()) > 200:
        errors["name"] = "Use at most 200 characters."
    if not SUBSCRIPTION_ID_RE.match(subscription_id):
        errors["subscription_id"] = (
            "Use 1 to 64 lowercase letters, digits and dashes, starting and ending with a letter or digit."
        )
    else:
        clash = select(Company.id).where(Company.subscription_id == subscription_id)
        if company_id is not None:
            clash = clash.where(Company.id != company_id)
        if session.scalar(clash) is not None:
            errors["subscription_id"] = "This subscription ID is taken."
    if plan not in Plan.__members__:
        errors["plan"] = f"Choose one of {', '.join(Plan.__members__)}."
    for key, value in (("max_users", max_users), ("max_quizzes", max_quizzes)):
        if value is not None and not 0 <= value <= 100000:
            errors[key] = "Use a number from 0 to 100000."
    return errors


def create_company(
    session: Session,
    *,
    name: str,
    subscription_id: str,
    plan: str = "FREE",
    max_users: int | None = None,
    max_quizzes: int | None = None,
    currency: str = "USD",
) -> Company:
    subscription_id = subscription_id.strip().lower()
    errors = validate_company_fields(
        session, name=name, subscription_id=subscription_id, plan=plan, max_users=max_users, max_quizzes=max_quizzes
    )
    if errors:
        raise CompanyError(errors)
    quotas = PLAN_QUOTAS[Plan(plan)]
    company = Company(
        name=name.strip(),
        subscription_id=subscription_id,
        plan=plan,
        max_users=quotas["max_users"] if max_users is None else max_users,
        max_quizzes=quotas["max_quizzes"] if max_quizzes is None else max_quizzes,
        currency=currency,
    )
    session.add(company)
    session.flush()
    create_default_stages(session, company.id)
    # Flush now: callers creating another tenant's rows do so inside unscoped().
    session.flush()
    return company


def count_companies(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Company)) or 0
