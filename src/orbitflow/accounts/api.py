"""JSON API of accounts: ``/api/v1/me``, ``/api/v1/me/password``, ``/api/v1/users``.

The rules live in :mod:`orbitflow.accounts.users`; a refusal there (``AccountError``) is
answered with the JSON error shape by the exception view in ``users_views``.
"""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.accounts.identity import current_user
from orbitflow.accounts.models import ApiKey, User
from orbitflow.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from orbitflow.accounts.profile import change_password
from orbitflow.accounts.two_factor import is_enrolled
from orbitflow.accounts.users import create_user, reset_password, update_user, user_query
from orbitflow.api.helpers import iso, json_body, paginate, paging_parameters
from orbitflow.api.openapi import api_operation, api_schema, list_of, ref
from orbitflow.security import COMPANY_ROLES, ROLES
from orbitflow.tenants.locale import LOCALE_SCHEMA, locale_json
from orbitflow.tenants.models import Company
from orbitflow.web.errors import APIError
from orbitflow.web.inputs import path_id

USERNAME_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 64, "description": "Stored in lowercase"}
PASSWORD_SCHEMA = {"type": "string", "minLength": MIN_LENGTH, "maxLength": MAX_LENGTH, "writeOnly": True}
EMAIL_SCHEMA = {"type": "string", "format": "email", "maxLength": 254, "nullable": True}

api_schema(
    "User",
    {
        "type": "object",
        "required": ["id", "username", "name", "email", "role", "is_active"],
        "properties": {
            "id": {"type": "integer"},
            "username": {"type": "string"},
            "name": {"type": "string"},
            "email": {"type": "string", "format": "email", "nullable": True},
            "role": {"type": "string", "enum": list(ROLES)},
            "is_active": {"type": "boolean"},
            "must_change_password": {"type": "boolean"},
            "last_login_at": {"type": "string", "format": "date-time", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
)
api_schema(
    "UserInput",
    {
        "type": "object",
        "required": ["username", "password", "role"],
        "properties": {
            "username": USERNAME_SCHEMA,
            "password": PASSWORD_SCHEMA,
            "role": {"type": "string", "enum": list(COMPANY_ROLES), "description": "OWNER needs an owner"},
            "email": EMAIL_SCHEMA,
            "name": {"type": "string", "maxLength": 200},
            "must_change_password": {"type": "boolean", "default": False},
        },
        "additionalProperties": False,
    },
)
api_schema(
    "UserPatch",
    {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "email": EMAIL_SCHEMA,
            "role": {"type": "string", "enum": list(COMPANY_ROLES)},
            "is_active": {"type": "boolean"},
            "password": {
                **PASSWORD_SCHEMA,
                "description": "A temporary password: the user must change it at the next sign-in",
            },
        },
        "additionalProperties": False,
    },
)
api_schema(
    "Me",
    {
        "type": "object",
        "description": (
            "The caller: a user, or for an API key the key (id and username are then null; role is the"
            " key's effective role, the lower of the key's role and its creator's current role)"
        ),
        "required": [
            "id",
            "username",
            "name",
            "email",
            "role",
            "is_active",
            "two_factor_enabled",
            "company",
            "permissions",
        ],
        "properties": {
            "id": {"type": "integer", "nullable": True},
            "username": {"type": "string", "nullable": True},
            "name": {"type": "string"},
            "email": {"type": "string", "nullable": True},
            "role": {"type": "string", "enum": list(ROLES)},
            "is_active": {"type": "boolean"},
            "must_change_password": {"type": "boolean"},
            "two_factor_enabled": {
                "type": "boolean",
                "nullable": True,
                "description": "Whether the user signs in with a second factor (null for an API key, which has none)",
            },
            "impersonated_by": {"type": "integer", "nullable": True},
            "permissions": {"type": "array", "items": {"type": "string"}},
            "api_key": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "prefix": {"type": "string"},
                    "role": {"type": "string", "description": "The role the key was given"},
                    "created_by": {"type": "integer", "description": "The user the key acts for"},
                },
            },
            "company": {
                "type": "object",
                "required": ["id", "name", "subscription_id", "plan", "max_users", "max_quizzes", "is_active"],
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "subscription_id": {"type": "string"},
                    "plan": {"type": "string"},
                    "max_users": {"type": "integer"},
                    "max_quizzes": {"type": "integer"},
                    "is_active": {"type": "boolean"},
                    **LOCALE_SCHEMA,
                },
            },
        },
    },
)
api_schema(
    "PasswordChange",
    {
        "type": "object",
        "required": ["current_password", "new_password"],
        "properties": {
            "current_password": {"type": "string", "maxLength": MAX_LENGTH, "writeOnly": True},
            "new_password": PASSWORD_SCHEMA,
        },
        "additionalProperties": False,
    },
)

_USER_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json(ref("Error"))}


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "is_active": user.is_active,
        "must_change_password": user.must_change_password,
        "last_login_at": iso(user.last_login_at),
        "created_at": iso(user.created_at),
    }


def company_json(company: Company) -> dict[str, Any]:
    return {
        "id": company.id,
        "name": company.name,
        "subscription_id": company.subscription_id,
        "plan": company.plan,
        "max_users": company.max_users,
        "max_quizzes": company.max_quizzes,
        "is_active": company.is_active,
        **locale_json(company),
    }


def _target(request: Request) -> User:
    user = request.dbsession.get(User, path_id(request))
    if user is None:
        raise APIError(404, "No such user.")
    return user


@api_operation(
    "api_me",
    "/api/v1/me",
    "get",
    summary="Who is calling: the signed-in user (or API key) and the company",
    tags=["Accounts"],
    responses={"200": {"description": "The caller", "content": _json(ref("Me"))}, "401": _error("Not signed in")},
)
@view_config(route_name="api_me", request_method="GET", renderer="json", permission="profile.edit")
def me(request: Request):
    identity = request.identity
    company = request.dbsession.get(Company, identity.company_id)
    body: dict[str, Any] = {
        "permissions": sorted(identity.permissions),
        "company": company_json(company),
        "impersonated_by": identity.impersonator_id,
        "api_key": None,
    }
    if identity.api_key_id is not None:
        key = request.dbsession.get(ApiKey, identity.api_key_id)
        body.update(
            id=None,
            username=None,
            name=key.name,
            email=None,
            role=identity.role,
            is_active=True,
            must_change_password=False,
            two_factor_enabled=None,
        )
        body["api_key"] = {
            "id": key.id,
            "name": key.name,
            "prefix": key.prefix,
            "role": key.role,
            "created_by": identity.user_id,
        }
        return body
    user = current_user(request)
    return {**user_json(user), "two_factor_enabled": is_enrolled(request.dbsession, user), **body}


@api_operation(
    "api_me_password",
    "/api/v1/me/password",
    "post",
    summary="Change one's password (also ends a forced change); other sessions end",
    tags=["Accounts"],
    requestBody={"required": True, "content": _json(ref("PasswordChange"))},
    responses={
        "200": {"description": "Changed; this session goes on, every other one ends", "content": _json(ref("Me"))},
        "403": _error("An API key has no password"),
        "422": _error("Wrong current password or a new password that breaks the rules (see fields)"),
    },
)
@view_config(route_name="api_me_password", request_method="POST", renderer="json", permission="profile.edit")
def me_password(request: Request):
    user = current_user(request)
    if user is None:
        raise APIError(403, "An API key has no password to change.")
    body = json_body(request)
    errors = change_password(request, user, body["current_password"], body["new_password"])
    if errors:
        raise APIError(422, "The password was not changed.", errors)
    company = request.dbsession.get(Company, user.company_id)
    return {
        **user_json(user),
        "two_factor_enabled": is_enrolled(request.dbsession, user),
        "permissions": sorted(request.identity.permissions),
        "company": company_json(company),
        "impersonated_by": None,
        "api_key": None,
    }


@api_operation(
    "api_users",
    "/api/v1/users",
    "get",
    summary="The company's users",
    tags=["Users"],
    parameters=[
        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Part of username, name or email"},
        {"name": "role", "in": "query", "schema": {"type": "string", "enum": list(COMPANY_ROLES)}},
        {"name": "is_active", "in": "query", "schema": {"type": "boolean"}},
        *paging_parameters(),
    ],
    responses={"200": {"description": "A page of users", "content": _json(list_of("User"))}},
)
@view_config(route_name="api_users", request_method="GET", renderer="json", permission="users.view")
def users_list(request: Request):
    role = request.params.get("role") or None
    if role is not None and role not in COMPANY_ROLES:
        raise APIError(400, f"role must be one of {', '.join(COMPANY_ROLES)}.", {"role": "unknown role"})
    active_raw = request.params.get("is_active")
    active = None
    if active_raw not in (None, ""):
        if active_raw.lower() not in {"true", "false", "1", "0"}:
            raise APIError(400, "is_active must be true or false.", {"is_active": "not a boolean"})
        active = active_raw.lower() in {"true", "1"}
    query = user_query(request.identity.company_id, q=request.params.get("q"), role=role, active=active)
    return paginate(request.dbsession, query, request).as_json(user_json)


@api_operation(
    "api_users",
    "/api/v1/users",
    "post",
    summary="Create a user",
    tags=["Users"],
    requestBody={"required": True, "content": _json(ref("UserInput"))},
    responses={
        "201": {"description": "Created", "content": _json(ref("User"))},
        "403": _error("The role may not be given by the caller (only owners make owners)"),
        "409": _error("Username taken, or the company's user quota is used up"),
        "422": _error("Invalid fields"),
    },
)
@view_config(route_name="api_users", request_method="POST", renderer="json", permission="users.manage")
def users_create(request: Request):
    body = json_body(request)
    company = request.dbsession.get(Company, request.identity.company_id)
    user = create_user(
        request,
        company,
        username=body["username"],
        password=body["password"],
        role=body["role"],
        name=body.get("name", ""),
        email=body.get("email"),
        must_change_password=body.get("must_change_password", False),
    )
    request.response.status_int = 201
    request.response.location = request.route_url("api_user", id=user.id)
    return user_json(user)


@api_operation(
    "api_user",
    "/api/v1/users/{id}",
    "get",
    summary="One user",
    tags=["Users"],
    parameters=_USER_ID,
    responses={"200": {"description": "The user", "content": _json(ref("User"))}, "404": _error("No such user")},
)
@view_config(route_name="api_user", request_method="GET", renderer="json", permission="users.view")
def user_get(request: Request):
    return user_json(_target(request))


@api_operation(
    "api_user",
    "/api/v1/users/{id}",
    "patch",
    summary="Change a user's name, email, role or active state, or set a temporary password",
    tags=["Users"],
    parameters=_USER_ID,
    requestBody={"required": True, "content": _json(ref("UserPatch"))},
    responses={
        "200": {"description": "The changed user", "content": _json(ref("User"))},
        "403": _error("Only owners change owners"),
        "404": _error("No such user"),
        "409": _error("The last active owner, one's own account, or the user quota"),
        "422": _error("Invalid fields"),
    },
)
@view_config(route_name="api_user", request_method="PATCH", renderer="json", permission="users.manage")
def user_patch(request: Request):
    user = _target(request)
    body = json_body(request)
    changes = {key: body[key] for key in ("name", "email", "role", "is_active") if key in body}
    password = body.get("password")
    update_user(request, user, **changes)
    if password:
        reset_password(request, user, password)
    return user_json(user)


@api_operation(
    "api_user",
    "/api/v1/users/{id}",
    "delete",
    summary="Deactivate a user (accounts are kept for the audit trail)",
    tags=["Users"],
    parameters=_USER_ID,
    responses={
        "204": {"description": "Deactivated"},
        "403": _error("Only owners deactivate owners"),
        "404": _error("No such user"),
        "409": _error("The last active owner, or one's own account"),
    },
)
@view_config(route_name="api_user", request_method="DELETE", renderer="json", permission="users.manage")
def user_delete(request: Request):
    update_user(request, _target(request), is_active=False)
    response = request.response
    response.status_int = 204
    response.content_type = None
    return response


def includeme(config) -> None:
    config.add_route("api_me", "/api/v1/me")
    config.add_route("api_me_password", "/api/v1/me/password")
    config.add_route("api_users", "/api/v1/users")
    config.add_route("api_user", r"/api/v1/users/{id:\d+}")
    config.scan(__name__)
