"""Super admin pages for companies: list, create, edit, (de)activate, and a company's page.

The super admin's own session belongs to the platform company; reading and changing other
companies' users crosses tenants on purpose, inside ``unscoped()``. Every change is
audited in the company it concerns, so that company's owners see it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User
from orbitflow.accounts.two_factor import enrolled_user_ids
from orbitflow.audit.paging import paged
from orbitflow.audit.services import audit, diff
from orbitflow.config import get_settings
from orbitflow.db import unscoped
from orbitflow.superadmin.forms import COMPANY_FORM_FIELDS, optional_quota, text_fields
from orbitflow.superadmin.services import roles_for
from orbitflow.tenants.locale import LOCALE_FIELDS, clean_locale, locale_choices, locale_form, locale_of
from orbitflow.tenants.models import PLAN_QUOTAS, Company, Plan
from orbitflow.tenants.services import (
    CompanyError,
    company_counts,
    company_snapshot,
    create_company,
    set_company_active,
    update_company,
)
from orbitflow.tenants.settings_page import record_company_update
from orbitflow.web.inputs import path_id
from orbitflow.web.layout import flash

LIST_TEMPLATE = "orbitflow:superadmin/templates/companies.jinja2"
FORM_TEMPLATE = "orbitflow:superadmin/templates/company_form.jinja2"
PAGE_TEMPLATE = "orbitflow:superadmin/templates/company.jinja2"
STATUSES = ("active", "inactive")
T = TypeVar("T")


def get_company(request: Request) -> Company:
    """The company named by the URL's ``id``, or 404."""
    company = request.dbsession.get(Company, path_id(request))
    if company is None:
        raise HTTPNotFound()
    return company


def _form_context(request: Request, form: dict, errors: dict, company: Company | None = None) -> dict:
    return {
        "section": "companies",
        "target": company,
        "form": form,
        "errors": errors,
        "plans": list(Plan),
        "plan_quotas": PLAN_QUOTAS,
        "locale_choices": locale_choices(get_settings(request.registry)),
    }


def _read_company_form(request: Request) -> tuple[dict, dict, dict, dict]:
    """(form as typed, parsed values, locale values, errors by field)."""
    form = text_fields(request.POST, COMPANY_FORM_FIELDS)
    errors: dict[str, str] = {}
    values = {
        "name": form["name"],
        "subscription_id": form["subscription_id"].lower(),
        "plan": form["plan"],
        "max_users": optional_quota(form["max_users"], errors, "max_users"),
        "max_quizzes": optional_quota(form["max_quizzes"], errors, "max_quizzes"),
    }
    # A locale field left out of the post keeps its value (a new company: the default).
    locale = clean_locale({key: form[key] for key in LOCALE_FIELDS if key in request.POST})
    return form, values, locale, errors


def _checked_save(session: Session, form_errors: dict[str, str], save: Callable[[], T]) -> tuple[T | None, dict]:
    """(what ``save`` returned, errors by field). The service checks its fields even when
    the form has errors of its own (a quota that is not a number), so every field's error
    shows on the first submit; ``save`` runs in a savepoint that is rolled back then."""
    savepoint = session.begin_nested()
    try:
        with unscoped(session):
            result = save()
    except CompanyError as error:
        savepoint.rollback()
        return None, {**error.fields, **form_errors}
    if form_errors:
        savepoint.rollback()
        return None, form_errors
    savepoint.commit()
    return result, {}


@view_config(route_name="admin_companies", request_method="GET", renderer=LIST_TEMPLATE, permission="platform.admin")
def companies(request: Request):
    session = request.dbsession
    q = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    query = select(Company).order_by(Company.name, Company.id)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(or_(Company.name.ilike(pattern), Company.subscription_id.ilike(pattern)))
    if status in STATUSES:
        query = query.where(Company.is_active.is_(status == "active"))
    params = {key: value for key, value in (("q", q), ("status", status)) if value}
    rows, pager = paged(session, query, request, params)
    with unscoped(session):
        counts = company_counts(session, [company.id for company in rows])
    return {
        "section": "companies",
        "companies": rows,
        "counts": counts,
        "pager": pager,
        "q": q,
        "status": status,
        "filtered": bool(params),
    }


@view_config(route_name="admin_company_new", request_method="GET", renderer=FORM_TEMPLATE, permission="platform.admin")
def company_new_form(request: Request):
    form = dict.fromkeys(COMPANY_FORM_FIELDS, "")
    form["plan"] = Plan.STARTER.value
    form["currency"] = "USD"
    return _form_context(request, form, {})


@view_config(route_name="admin_company_new", request_method="POST", renderer=FORM_TEMPLATE, permission="platform.admin")
def company_create(request: Request):
    form, values, locale, errors = _read_company_form(request)
    session = request.dbsession
    company, errors = _checked_save(session, errors, lambda: create_company(session, **values, **locale))
    if errors:
        request.response.status_int = 400
        return _form_context(request, form, errors)
    audit(request, "company.create", company, changes=diff({}, company_snapshot(company)), company_id=company.id)
    flash(request, f"Company {company.name} created. Now create its owner.")
    return HTTPSeeOther(request.route_url("admin_company_user_new", id=company.id, _query={"role": "OWNER"}))


@view_config(route_name="admin_company", request_method="GET", renderer=PAGE_TEMPLATE, permission="platform.admin")
def company_page(request: Request):
    company = get_company(request)
    session = request.dbsession
    q = request.GET.get("q", "").strip()
    with unscoped(session):
        query = select(User).where(User.company_id == company.id).order_by(User.username, User.id)
        if q:
            pattern = f"%{q.lower()}%"
            query = query.where(or_(User.username.ilike(pattern), User.name.ilike(pattern), User.email.ilike(pattern)))
        users, pager = paged(session, query, request, {"q": q} if q else {})
        counts = company_counts(session, [company.id])[company.id]
    return {
        "section": "companies",
        "target": company,
        "users": users,
        "pager": pager,
        "counts": counts,
        "q": q,
        "can_add_roles": roles_for(company),
        "target_locale": locale_of(company, get_settings(request.registry)),
        "me": request.identity.user_id,
        "two_factor_users": enrolled_user_ids(session, company.id, [user.id for user in users]),
    }


@view_config(route_name="admin_company_edit", request_method="GET", renderer=FORM_TEMPLATE, permission="platform.admin")
def company_edit_form(request: Request):
    company = get_company(request)
    defaults = PLAN_QUOTAS[Plan(company.plan)]
    form = {
        "name": company.name,
        "subscription_id": company.subscription_id,
        "plan": company.plan,
        # Empty means "the plan's default", so a plan change brings the new plan's quotas.
        "max_users": "" if company.max_users == defaults["max_users"] else str(company.max_users),
        "max_quizzes": "" if company.max_quizzes == defaults["max_quizzes"] else str(company.max_quizzes),
        **locale_form(company),
    }
    return _form_context(request, form, {}, company)


@view_config(
    route_name="admin_company_edit", request_method="POST", renderer=FORM_TEMPLATE, permission="platform.admin"
)
def company_update(request: Request):
    company = get_company(request)
    form, values, locale, errors = _read_company_form(request)
    session = request.dbsession
    before, errors = _checked_save(session, errors, lambda: update_company(session, company, **values, locale=locale))
    if errors:
        request.response.status_int = 400
        return _form_context(request, form, errors, company)
    changes = diff(before, company_snapshot(company))
    if changes:
        record_company_update(request, company, changes)
        flash(request, f"{company.name} saved.")
    else:
        flash(request, "Nothing changed.", "info")
    return HTTPSeeOther(request.route_url("admin_company", id=company.id))


def _set_active(request: Request, active: bool):
    company = get_company(request)
    if company.is_active == active:
        flash(request, f"{company.name} is already {'active' if active else 'inactive'}.", "info")
        return HTTPSeeOther(request.route_url("admin_company", id=company.id))
    try:
        set_company_active(request.dbsession, company, active)
    except CompanyError as error:
        flash(request, " ".join(error.fields.values()), "error")
        return HTTPSeeOther(request.route_url("admin_company", id=company.id))
    action = "company.reactivate" if active else "company.deactivate"
    audit(
        request, action, company, changes=diff({"is_active": not active}, {"is_active": active}), company_id=company.id
    )
    if active:
        flash(request, f"{company.name} is active again: its users can sign in.")
    else:
        flash(request, f"{company.name} is deactivated: its users cannot sign in and its public pages are gone.")
    return HTTPSeeOther(request.route_url("admin_company", id=company.id))


@view_config(route_name="admin_company_deactivate", request_method="POST", permission="platform.admin")
def company_deactivate(request: Request):
    return _set_active(request, False)


@view_config(route_name="admin_company_reactivate", request_method="POST", permission="platform.admin")
def company_reactivate(request: Request):
    return _set_active(request, True)


def includeme(config) -> None:
    config.add_route("admin_companies", "/admin/companies")
    config.add_route("admin_company_new", "/admin/companies/new")
    config.add_route("admin_company", r"/admin/companies/{id:\d+}")
    config.add_route("admin_company_edit", r"/admin/companies/{id:\d+}/edit")
    config.add_route("admin_company_deactivate", r"/admin/companies/{id:\d+}/deactivate")
    config.add_route("admin_company_reactivate", r"/admin/companies/{id:\d+}/reactivate")
    config.scan(__name__)
