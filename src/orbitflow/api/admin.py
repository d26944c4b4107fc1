"""Super admin JSON API: companies and their users.

``/api/v1/admin/companies`` (list, create), ``/api/v1/admin/companies/{id}`` (get, patch,
delete = deactivate) and ``/api/v1/admin/companies/{id}/users`` (list, create). Crosses
tenants on purpose; every change is audited in the company it concerns.
"""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import or_, select

from orbitflow.accounts.api import EMAIL_SCHEMA, PASSWORD_SCHEMA, USERNAME_SCHEMA
from orbitflow.accounts.api import user_json as accounts_user_json
from orbitflow.accounts.models import User
from orbitflow.api.helpers import iso, json_body, paginate, paging_parameters
from orbitflow.api.openapi import api_operation, api_schema, int_schema, list_of, ref
from orbitflow.audit.services import audit, diff
from orbitflow.db import unscoped
from orbitflow.security import ROLES
from orbitflow.superadmin.services import NewUser, UserError, create_company_user
from orbitflow.tenants.locale import LOCALE_FIELDS, LOCALE_SCHEMA, locale_json
from orbitflow.tenants.models import PLAN_QUOTAS, Company, Plan
from orbitflow.tenants.services import (
    SUBSCRIPTION_ID_RE,
    CompanyError,
    company_counts,
    company_snapshot,
    create_company,
    set_company_active,
    update_company,
)
from orbitflow.tenants.settings_page import record_company_update
from orbitflow.web.errors import APIError
from orbitflow.web.inputs import path_id

PERMISSION = "platform.admin"
PLANS = [plan.value for plan in Plan]

_COMPANY_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "subscription_id": {
        "type": "string",
        "pattern": SUBSCRIPTION_ID_RE.pattern,
        "maxLength": 64,
        "example": "acme",
        "description": "Used at sign-in and in public URLs",
    },
    "plan": {"type": "string", "enum": PLANS},
    "max_users": int_schema(nullable=True, description="null: the plan's default"),
    "max_quizzes": int_schema(nullable=True, description="null: the plan's default"),
    **LOCALE_SCHEMA,
}
api_schema(
    "Company",
    {
        "type": "object",
        "required": ["id", "name", "subscription_id", "plan", "max_users", "max_quizzes", "is_active"],
        "properties": {
            "id": {"type": "integer"},
            **_COMPANY_FIELDS,
            "max_users": {"type": "integer"},
            "max_quizzes": {"type": "integer"},
            "is_active": {"type": "boolean"},
            "user_count": {"type": "integer", "description": "Active users"},
            "lead_count": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
)
api_schema(
    "CompanyInput",
    {
        "type": "object",
        "required": ["name", "subscription_id"],
        "properties": {**_COMPANY_FIELDS, "plan": {"type": "string", "enum": PLANS, "default": "FREE"}},
        "additionalProperties": False,
    },
)
api_schema(
    "CompanyPatch",
    {
        "type": "object",
        "properties": {**_COMPANY_FIELDS, "is_active": {"type": "boolean"}},
        "additionalProperties": False,
    },
)
api_schema(
    "CompanyUser",
    {
        "allOf": [
            ref("User"),
            {"type": "object", "required": ["company_id"], "properties": {"company_id": {"type": "integer"}}},
        ]
    },
)
api_schema(
    "CompanyUserInput",
    {
        "type": "object",
        "required": ["username", "password", "role"],
        "properties": {
            "username": USERNAME_SCHEMA,
            "password": PASSWORD_SCHEMA,
            "role": {"type": "string", "enum": list(ROLES), "description": "SUPER_ADMIN only in the platform company"},
            "email": EMAIL_SCHEMA,
            "name": {"type": "string", "maxLength": 200},
            "must_change_password": {"type": "boolean", "default": False},
        },
        "additionalProperties": False,
    },
)

_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}, "description": "Company id"}]
_PAGING = paging_parameters()
_Q = {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Part of the name, slug or email"}
_ACTIVE = {"name": "is_active", "in": "query", "schema": {"type": "boolean"}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ok(description: str, schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, "content": _json(schema)}}


_ERRORS = {
    "401": {"description": "Not signed in", "content": _json(ref("Error"))},
    "403": {"description": "Not a super admin", "content": _json(ref("Error"))},
}
_NOT_FOUND = {"404": {"description": "No such company", "content": _json(ref("Error"))}}
_INVALID = {
    "400": {"description": "The body is not a JSON object", "content": _json(ref("Error"))},
    "409": {"description": "Subscription ID or username taken, or quota reached", "content": _json(ref("Error"))},
    "422": {"description": "Invalid fields (messages by field)", "content": _json(ref("Error"))},
}


# --- serialising and reading ------------------------------------------------------------


def company_json(company: Company, counts: dict[str, int] | None = None) -> dict[str, Any]:
    body = {
        "id": company.id,
        "name": company.name,
        "subscription_id": company.subscription_id,
        "plan": company.plan,
        "max_users": company.max_users,
        "max_quizzes": company.max_quizzes,
        "is_active": company.is_active,
        **locale_json(company),
        "created_at": iso(company.created_at),
        "updated_at": iso(company.updated_at),
    }
    if counts is not None:
        body["user_count"] = counts["users"]
        body["lead_count"] = counts["leads"]
    return body


def user_json(user: User) -> dict[str, Any]:
    """A user as the accounts API shows it, with the company it belongs to."""
    return {**accounts_user_json(user), "company_id": user.company_id}


def _company_error(error: CompanyError) -> APIError:
    if error.is_conflict:
        return APIError(409, "The subscription ID is taken.", error.fields, code="conflict")
    return APIError(422, "Check the fields.", error.fields)


def _get_company(request: Request) -> Company:
    company = request.dbsession.get(Company, path_id(request))
    if company is None:
        raise APIError(404, "No such company.")
    return company


def _bool_param(request: Request, name: str) -> bool | None:
    raw = request.GET.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise APIError(400, f"{name} must be true or false.", {name: "not a boolean"})


def _counts(request: Request, company: Company) -> dict[str, int]:
    with unscoped(request.dbsession):
        return company_counts(request.dbsession, [company.id])[company.id]


# --- companies --------------------------------------------------------------------------


@api_operation(
    "api_admin_companies",
    "/api/v1/admin/companies",
    "get",
    summary="List companies",
    tags=["admin"],
    parameters=[
        _Q,
        _ACTIVE,
        {"name": "plan", "in": "query", "schema": {"type": "string", "enum": PLANS}},
        *_PAGING,
    ],
    responses={**_ok("A page of companies", list_of("Company")), **_ERRORS},
)
@view_config(route_name="api_admin_companies", request_method="GET", renderer="json", permission=PERMISSION)
def list_companies(request: Request):
    query = select(Company).order_by(Company.name, Company.id)
    q = request.GET.get("q", "").strip()
    if q:
        query = query.where(
            or_(Company.name.icontains(q, autoescape=True), Company.subscription_id.icontains(q, autoescape=True))
        )
    active = _bool_param(request, "is_active")
    if active is not None:
        query = query.where(Company.is_active.is_(active))
    plan = request.GET.get("plan", "").strip().upper()
    if plan:
        if plan not in PLANS:
            raise APIError(400, f"plan must be one of {', '.join(PLANS)}.", {"plan": "unknown plan"})
        query = query.where(Company.plan == plan)
    session = request.dbsession
    page = paginate(session, query, request)
    with unscoped(session):
        counts = company_counts(session, [company.id for company in page.items])
    return page.as_json(lambda company: company_json(company, counts[company.id]))


@api_operation(
    "api_admin_companies",
    "/api/v1/admin/companies",
    "post",
    summary="Create a company",
    description=(
        "Quotas left out take the plan's defaults; a country or time zone left out (or null) follows the "
        "installation's, the currency left out is USD. The company gets the default pipeline stages."
    ),
    tags=["admin"],
    requestBody={"required": True, "content": _json(ref("CompanyInput"))},
    responses={**_ok("The new company", ref("Company"), "201"), **_ERRORS, **_INVALID},
)
@view_config(route_name="api_admin_companies", request_method="POST", renderer="json", permission=PERMISSION)
def create_company_view(request: Request):
    body = json_body(request)
    session = request.dbsession
    try:
        with unscoped(session):
            company = create_company(
                session,
                name=body["name"],
                subscription_id=body["subscription_id"],
                plan=body.get("plan") or Plan.FREE.value,
                max_users=body.get("max_users"),
                max_quizzes=body.get("max_quizzes"),
                **{key: body[key] for key in LOCALE_FIELDS if key in body},
            )
    except CompanyError as error:
        raise _company_error(error) from None
    audit(request, "company.create", company, changes=diff({}, company_snapshot(company)), company_id=company.id)
    request.response.status_int = 201
    request.response.location = request.route_url("api_admin_company", id=company.id)
    return company_json(company, {"users": 0, "leads": 0})


@api_operation(
    "api_admin_company",
    "/api/v1/admin/companies/{id}",
    "get",
    summary="Get a company with its counts",
    tags=["admin"],
    parameters=_ID,
    responses={**_ok("The company", ref("Company")), **_ERRORS, **_NOT_FOUND},
)
@view_config(route_name="api_admin_company", request_method="GET", renderer="json", permission=PERMISSION)
def get_company(request: Request):
    company = _get_company(request)
    return company_json(company, _counts(request, company))


@api_operation(
    "api_admin_company",
    "/api/v1/admin/companies/{id}",
    "patch",
    summary="Change a company",
    description=(
        "Send only the fields to change. A quota set to null takes the plan's default; when the plan changes, "
        "a quota that was the old plan's default follows the new plan. is_active false deactivates "
        "(its users cannot sign in, its public pages answer 404), true reactivates."
    ),
    tags=["admin"],
    parameters=_ID,
    requestBody={"required": True, "content": _json(ref("CompanyPatch"))},
    responses={**_ok("The changed company", ref("Company")), **_ERRORS, **_NOT_FOUND, **_INVALID},
)
@view_config(route_name="api_admin_company", request_method="PATCH", renderer="json", permission=PERMISSION)
def patch_company(request: Request):
    company = _get_company(request)
    body = json_body(request)
    plan = body.get("plan", company.plan)
    quotas: dict[str, int | None] = {}
    old_defaults = PLAN_QUOTAS.get(Plan(company.plan), {}) if company.plan in PLANS else {}
    for key in ("max_users", "max_quizzes"):
        if key in body:
            quotas[key] = body[key]
        elif plan != company.plan and getattr(company, key) == old_defaults.get(key):
            quotas[key] = None  # followed the old plan: follow the new one
        else:
            quotas[key] = getattr(company, key)
    session = request.dbsession
    try:
        with unscoped(session):
            before = update_company(
                session,
                company,
                name=body.get("name", company.name),
                subscription_id=body.get("subscription_id", company.subscription_id),
                plan=plan,
                **quotas,
                locale={key: body[key] for key in LOCALE_FIELDS if key in body},
            )
    except CompanyError as error:
        raise _company_error(error) from None
    changes = diff(before, company_snapshot(company))
    if changes:
        record_company_update(request, company, changes)
    if "is_active" in body and body["is_active"] != company.is_active:
        _set_active(request, company, body["is_active"])
    return company_json(company, _counts(request, company))


def _set_active(request: Request, company: Company, active: bool) -> None:
    try:
        set_company_active(request.dbsession, company, active)
    except CompanyError as error:
        raise APIError(422, "Check the fields.", error.fields) from None
    action = "company.reactivate" if active else "company.deactivate"
    audit(
        request, action, company, changes=diff({"is_active": not active}, {"is_active": active}), company_id=company.id
    )


@api_operation(
    "api_admin_company",
    "/api/v1/admin/companies/{id}",
    "delete",
    summary="Deactivate a company",
    description=(
        "Companies are never erased here: the company is deactivated (its users cannot sign in, its public "
        "pages answer 404) and can be reactivated with PATCH is_active true. Repeating it is harmless."
    ),
    tags=["admin"],
    parameters=_ID,
    responses={**_ok("The deactivated company", ref("Company")), **_ERRORS, **_NOT_FOUND},
)
@view_config(route_name="api_admin_company", request_method="DELETE", renderer="json", permission=PERMISSION)
def delete_company(request: Request):
    company = _get_company(request)
    if company.is_active:
        _set_active(request, company, False)
    return company_json(company, _counts(request, company))


# --- a company's users ------------------------------------------------------------------


@api_operation(
    "api_admin_company_users",
    "/api/v1/admin/companies/{id}/users",
    "get",
    summary="List a company's users",
    tags=["admin"],
    parameters=[
        *_ID,
        _Q,
        {"name": "role", "in": "query", "schema": {"type": "string", "enum": list(ROLES)}},
        _ACTIVE,
        *_PAGING,
    ],
    responses={**_ok("A page of users", list_of("CompanyUser")), **_ERRORS, **_NOT_FOUND},
)
@view_config(route_name="api_admin_company_users", request_method="GET", renderer="json", permission=PERMISSION)
def list_company_users(request: Request):
    company = _get_company(request)
    query = select(User).where(User.company_id == company.id).order_by(User.username, User.id)
    q = request.GET.get("q", "").strip()
    if q:
        query = query.where(
            or_(
                User.username.icontains(q, autoescape=True),
                User.name.icontains(q, autoescape=True),
                User.email.icontains(q, autoescape=True),
            )
        )
    role = request.GET.get("role", "").strip().upper()
    if role:
        if role not in ROLES:
            raise APIError(400, f"role must be one of {', '.join(ROLES)}.", {"role": "unknown role"})
        query = query.where(User.role == role)
    active = _bool_param(request, "is_active")
    if active is not None:
        query = query.where(User.is_active.is_(active))
    session = request.dbsession
    with unscoped(session):
        page = paginate(session, query, request)
    return page.as_json(user_json)


@api_operation(
    "api_admin_company_users",
    "/api/v1/admin/companies/{id}/users",
    "post",
    summary="Create a user in a company",
    description=(
        "Any company role (SUPER_ADMIN in the platform company). The company's user quota applies (409 "
        "quota_exceeded). must_change_password makes the user choose a new password at first sign-in."
    ),
    tags=["admin"],
    parameters=_ID,
    requestBody={"required": True, "content": _json(ref("CompanyUserInput"))},
    responses={**_ok("The new user", ref("CompanyUser"), "201"), **_ERRORS, **_NOT_FOUND, **_INVALID},
)
@view_config(route_name="api_admin_company_users", request_method="POST", renderer="json", permission=PERMISSION)
def create_company_user_view(request: Request):
    company = _get_company(request)
    body = json_body(request)
    data = NewUser(
        username=body["username"],
        password=body["password"],
        role=body["role"],
        name=body.get("name") or "",
        email=body.get("email") or "",
        must_change_password=bool(body.get("must_change_password", False)),
    )
    try:
        user = create_company_user(request, company, data)
    except UserError as error:
        raise APIError(error.status, error.message, error.fields or None, code=error.code) from None
    request.response.status_int = 201
    return user_json(user)


def includeme(config) -> None:
    config.add_route("api_admin_companies", "/api/v1/admin/companies")
    config.add_route("api_admin_company", r"/api/v1/admin/companies/{id:\d+}")
    config.add_route("api_admin_company_users", r"/api/v1/admin/companies/{id:\d+}/users")
    config.scan(__name__)
