"""Settings → Users: owners and admins manage the company's accounts; managers read them."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.view import exception_view_config, view_config
from sqlalchemy import func, select

from orbitflow.accounts.models import User
from orbitflow.accounts.two_factor import is_enrolled
from orbitflow.accounts.users import (
    AccountError,
    active_user_count,
    assignable_roles,
    create_user,
    may_manage,
    reset_password,
    update_user,
    user_query,
)
from orbitflow.security import COMPANY_ROLES
from orbitflow.tenants.models import Company
from orbitflow.web.errors import json_error
from orbitflow.web.inputs import parse_page, path_id
from orbitflow.web.layout import flash

LIST_TEMPLATE = "orbitflow:accounts/templates/users.jinja2"
FORM_TEMPLATE = "orbitflow:accounts/templates/user_form.jinja2"
RESET_TEMPLATE = "orbitflow:accounts/templates/user_password_reset.jinja2"
PER_PAGE = 25
STATUS_FILTERS = {"active": True, "inactive": False, "all": None}


def _company(request: Request) -> Company:
    return request.dbsession.get(Company, request.identity.company_id)


def _target(request: Request) -> User:
    """The user named in the URL; another company's user is simply not found."""
    user = request.dbsession.get(User, path_id(request))
    if user is None:
        raise HTTPNotFound("No such user.")
    return user


def _html_status(error: AccountError) -> int:
    # Forms answer 400 for bad input, the service's 422 in the API.
    return 400 if error.status == 422 else error.status


def _list_context(request: Request) -> dict[str, Any]:
    session = request.dbsession
    company = _company(request)
    role, status = request.params.get("role", ""), request.params.get("status", "active")
    filters = {
        "q": request.params.get("q", "").strip()[:100],
        "role": role if role in COMPANY_ROLES else "",
        "status": status if status in STATUS_FILTERS else "active",
    }
    query = user_query(
        company.id, q=filters["q"], role=filters["role"] or None, active=STATUS_FILTERS[filters["status"]]
    )
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(parse_page(request.params.get("page")), pages)
    users = session.scalars(query.limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    identity = request.identity
    return {
        "users": users,
        "filters": filters,
        "page": page,
        "pages": pages,
        "total": total,
        "active_count": active_user_count(session, company.id),
        "max_users": company.max_users,
        "roles": COMPANY_ROLES,
        "can_manage": "users.manage" in identity.permissions,
        "manageable": {user.id for user in users if may_manage(identity, user)},
        "error": None,
    }


def _render_list(request: Request, error: AccountError):
    context = {**_list_context(request), "error": error.message}
    response = render_to_response(LIST_TEMPLATE, context, request=request)
    response.status_int = _html_status(error)
    return response


@view_config(route_name="users", request_method="GET", renderer=LIST_TEMPLATE, permission="users.view")
def users_list(request: Request):
    return _list_context(request)


def _form_context(request: Request, form: dict, errors: dict, user: User | None = None, error: str | None = None):
    company = _company(request)
    return {
        "form": form,
        "errors": errors,
        "error": error,
        "user": user,
        "roles": assignable_roles(request.identity, company),
        "can_deactivate": user is not None and user.id != request.identity.user_id,
        "two_factor_on": user is not None and is_enrolled(request.dbsession, user),
        "can_reset_two_factor": user is not None
        and user.id != request.identity.user_id
        and "users.two_factor_reset" in request.identity.permissions,
    }


@view_config(route_name="user_new", request_method="GET", renderer=FORM_TEMPLATE, permission="users.manage")
def user_new_form(request: Request):
    form = {"username": "", "name": "", "email": "", "role": "AGENT", "must_change_password": True}
    return _form_context(request, form, {})


@view_config(route_name="user_new", request_method="POST", renderer=FORM_TEMPLATE, permission="users.manage")
def user_new_submit(request: Request):
    post = request.POST
    form = {
        "username": post.get("username", ""),
        "name": post.get("name", ""),
        "email": post.get("email", ""),
        "role": post.get("role", ""),
        "must_change_password": post.get("must_change_password") == "on",
    }
    try:
        user = create_user(
            request,
            _company(request),
            username=form["username"],
            password=post.get("password", ""),
            role=form["role"],
            name=form["name"],
            email=form["email"],
            must_change_password=form["must_change_password"],
        )
    except AccountError as error:
        request.response.status_int = _html_status(error)
        return _form_context(request, form, error.fields, error=error.message)
    flash(request, f"User {user.username} created.")
    return HTTPSeeOther(request.route_url("users"))


@view_config(route_name="user_edit", request_method="GET", renderer=FORM_TEMPLATE, permission="users.manage")
def user_edit_form(request: Request):
    user = _target(request)
    if not may_manage(request.identity, user):
        raise AccountError(403, "Only an owner can change an owner's account.")
    form = {"username": user.username, "name": user.name, "email": user.email or "", "role": user.role}
    return _form_context(request, form, {}, user)


@view_config(route_name="user_edit", request_method="POST", renderer=FORM_TEMPLATE, permission="users.manage")
def user_edit_submit(request: Request):
    user = _target(request)
    post = request.POST
    form = {
        "username": user.username,
        "name": post.get("name", ""),
        "email": post.get("email", ""),
        "role": post.get("role", user.role),
    }
    try:
        changes = update_user(request, user, name=form["name"], email=form["email"], role=form["role"])
    except AccountError as error:
        request.response.status_int = _html_status(error)
        return _form_context(request, form, error.fields, user, error=error.message)
    flash(request, f"User {user.username} saved." if changes else "Nothing to change.")
    return HTTPSeeOther(request.route_url("users"))


@view_config(route_name="user_deactivate", request_method="POST", permission="users.manage")
def user_deactivate(request: Request):
    return _set_active(request, False)


@view_config(route_name="user_reactivate", request_method="POST", permission="users.manage")
def user_reactivate(request: Request):
    return _set_active(request, True)


def _set_active(request: Request, active: bool):
    user = _target(request)
    try:
        changed = update_user(request, user, is_active=active)
    except AccountError as error:
        return _render_list(request, error)
    if changed:
        flash(request, f"User {user.username} {'reactivated' if active else 'deactivated'}.")
    return HTTPSeeOther(request.route_url("users"))


@view_config(
    route_name="user_reset_password", request_method="POST", renderer=RESET_TEMPLATE, permission="users.manage"
)
def user_reset_password(request: Request):
    user = _target(request)
    try:
        password = reset_password(request, user, request.POST.get("password", "").strip() or None)
    except AccountError as error:
        if error.status == 403:
            raise
        request.response.status_int = _html_status(error)
        form = {"username": user.username, "name": user.name, "email": user.email or "", "role": user.role}
        response = render_to_response(
            FORM_TEMPLATE, _form_context(request, form, error.fields, user, error=error.message), request=request
        )
        response.status_int = _html_status(error)
        return response
    # The temporary password is on this page only: keep it out of caches.
    request.response.cache_control = "no-store"
    return {"user": user, "password": password}


@exception_view_config(AccountError)
def account_error(error: AccountError, request: Request):
    """A refusal that escaped a view: the error page, or the JSON error under /api/."""
    if request.path_info.startswith("/api/"):
        return json_error(request, error.status, error.message, error.fields or None, error.code)
    title = "Not allowed" if error.status == 403 else "Refused"
    response = render_to_response(
        "error.jinja2", {"status": error.status, "title": title, "message": error.message}, request=request
    )
    response.status_int = error.status
    return response


def includeme(config) -> None:
    config.add_route("users", "/settings/users")
    config.add_route("user_new", "/settings/users/new")
    config.add_route("user_edit", r"/settings/users/{id:\d+}")
    config.add_route("user_deactivate", r"/settings/users/{id:\d+}/deactivate")
    config.add_route("user_reactivate", r"/settings/users/{id:\d+}/reactivate")
    config.add_route("user_reset_password", r"/settings/users/{id:\d+}/reset-password")
    config.scan(__name__)
