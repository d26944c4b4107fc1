"""Creating and changing companies."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orbitflow.leads.stages import create_default_stages
from orbitflow.tenants.locale import LOCALE_FIELDS, check_locale
from orbitflow.tenants.models import PLAN_QUOTAS, Company, Plan
from orbitflow.wording import plural

SUBSCRIPTION_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
SUBSCRIPTION_ID_TAKEN = "This subscription ID is taken."
MAX_QUOTA = 100000
# The fields a super admin may change; the platform company keeps its subscription ID.
EDITABLE_FIELDS = ("name", "subscription_id", "plan", "max_users", "max_quizzes", *LOCALE_FIELDS)


class CompanyError(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields

    @property
    def is_conflict(self) -> bool:
        """Only a clash with another company (HTTP 409), not invalid input (422)."""
        return set(self.fields.values()) == {SUBSCRIPTION_ID_TAKEN}


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
            errors["subscription_id"] = SUBSCRIPTION_ID_TAKEN
    if plan not in Plan.__members__:
        errors["plan"] = f"Choose one of {', '.join(Plan.__members__)}."
    for key, value in (("max_users", max_users), ("max_quizzes", max_quizzes)):
        if value is not None and not 0 <= value <= MAX_QUOTA:
            errors[key] = f"Use a number from 0 to {MAX_QUOTA}."
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
    phone_region: str | None = None,
    time_zone: str | None = None,
) -> Company:
    """A new company with the default stages; a country or time zone left as ``None``
    follows the installation's (``orbitflow.default_phone_region``, ``TZ``)."""
    subscription_id = subscription_id.strip().lower()
    errors = validate_company_fields(
        session, name=name, subscription_id=subscription_id, plan=plan, max_users=max_users, max_quizzes=max_quizzes
    )
    errors.update(check_locale({"phone_region": phone_region, "currency": currency, "time_zone": time_zone}))
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
        phone_region=phone_region,
        time_zone=time_zone,
    )
    session.add(company)
    session.flush()
    create_default_stages(session, company.id)
    # Flush now: callers creating another tenant's rows do so inside unscoped().
    session.flush()
    return company


def count_companies(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Company)) or 0


def plan_defaults(plan: str) -> dict[str, int]:
    return dict(PLAN_QUOTAS[Plan(plan)])


def company_snapshot(company: Company) -> dict[str, object]:
    """The audited fields of a company, for before/after diffs."""
    return {key: getattr(company, key) for key in (*EDITABLE_FIELDS, "is_active")}


def active_user_count(session: Session, company_id: int) -> int:
    """Call inside ``unscoped()`` when the session belongs to another company."""
    from orbitflow.accounts.models import User

    query = select(func.count()).select_from(User).where(User.company_id == company_id, User.is_active.is_(True))
    return session.scalar(query) or 0


def update_company(
    session: Session,
    company: Company,
    *,
    name: str,
    subscription_id: str,
    plan: str,
    max_users: int | None = None,
    max_quizzes: int | None = None,
    locale: dict[str, str | None] | None = None,
) -> dict[str, object]:
    """Change a company; a quota left as ``None`` takes the plan's default. ``locale``
    holds the locale fields to change (``phone_region``, ``currency``, ``time_zone``).

    Returns the fields as they were before, for the audit diff. Raises
    :class:`CompanyError` with messages by field and changes nothing then.
    """
    locale = locale or {}
    subscription_id = subscription_id.strip().lower()
    errors = validate_company_fields(
        session,
        name=name,
        subscription_id=subscription_id,
        plan=plan,
        company_id=company.id,
        max_users=max_users,
        max_quizzes=max_quizzes,
    )
    errors.update(check_locale(locale))
    if company.is_platform and subscription_id != company.subscription_id:
        errors["subscription_id"] = "The platform company's subscription ID cannot change."
    if "plan" not in errors:
        defaults = plan_defaults(plan)
        max_users = defaults["max_users"] if max_users is None else max_users
        max_quizzes = defaults["max_quizzes"] if max_quizzes is None else max_quizzes
        if "max_users" not in errors:
            in_use = active_user_count(session, company.id)
            if max_users < in_use:
                errors["max_users"] = (
                    f"The company has {plural(in_use, 'active user')}: "
                    f"allow at least {in_use} or deactivate users first."
                )
    if errors:
        raise CompanyError(errors)
    before = company_snapshot(company)
    company.name = name.strip()
    company.subscription_id = subscription_id
    company.plan = plan
    company.max_users = max_users
    company.max_quizzes = max_quizzes
    for key, value in locale.items():
        setattr(company, key, value)
    session.flush()
    return before


def set_company_active(session: Session, company: Company, active: bool) -> None:
    """Deactivate or reactivate; the platform company always stays active."""
    if company.is_platform and not active:
        raise CompanyError({"is_active": "The platform company cannot be deactivated."})
    company.is_active = active
    session.flush()


def company_counts(session: Session, company_ids: list[int]) -> dict[int, dict[str, int]]:
    """Active users and leads per company, in two grouped queries.

    Crosses tenants: call inside ``unscoped()``.
    """
    from orbitflow.accounts.models import User
    from orbitflow.leads.models import Lead

    counts = {company_id: {"users": 0, "leads": 0} for company_id in company_ids}
    if not company_ids:
        return counts
    users = session.execute(
        select(User.company_id, func.count())
        .where(User.company_id.in_(company_ids), User.is_active.is_(True))
        .group_by(User.company_id)
    )
    for company_id, count in users:
        counts[company_id]["users"] = count
    leads = session.execute(
        select(Lead.company_id, func.count()).where(Lead.company_id.in_(company_ids)).group_by(Lead.company_id)
    )
    for company_id, count in leads:
        counts[company_id]["leads"] = count
    return counts


def public_company(session: Session, subscription_id: str) -> Company | None:
    """The company behind a public URL, or None when unknown or inactive (answer 404)."""
    company = session.scalars(select(Company).where(Company.subscription_id == subscription_id.strip().lower())).first()
    if company is None or not company.is_active or company.is_platform:
        return None
    return company
