"""Super admin pages for the users of any company: create, reset password, (de)activate,
reset the second factor."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.accounts.models import User
from orbitflow.accounts.two_factor import TwoFactorError, reset
from orbitflow.accounts.two_factor_views import reset_refused
from orbitflow.db import unscoped
from orbitflow.security import OWNER
from orbitflow.superadmin.forms import USER_FORM_FIELDS, checkbox, text_fields
from orbitflow.superadmin.services import (
    NewUser,
    UserError,
    create_company_user,
    reset_user_password,
    roles_for,
    set_user_active,
)
from orbitflow.superadmin.views import get_company
from orbitflow.web.inputs import path_id
from orbitflow.web.layout import flash

USER_FORM_TEMPLATE = "orbitflow:superadmin/templates/user_form.jinja2"
PASSWORD_TEMPLATE = "orbitflow:superadmin/templates/user_password.jinja2"


def get_company_user(request: Request):
    """The company and the user named by the URL; 404 unless the user is in that company."""
    company = get_company(request)
    with unscoped(request.dbsession):
        user = request.dbsession.get(User, path_id(request, "user_id"))
    if user is None or user.company_id != company.id:
        raise HTTPNotFound()
    return company, user


def _user_form_context(company, form: dict, errors: dict) -> dict:
    return {"section": "companies", "target": company, "form": form, "errors": errors, "roles": roles_for(company)}


@view_config(
    route_name="admin_company_user_new", request_method="GET", renderer=USER_FORM_TEMPLATE, permission="platform.admin"
)
def user_new_form(request: Request):
    company = get_company(request)
    roles = roles_for(company)
    role = request.GET.get("role", "")
    form = dict.fromkeys(USER_FORM_FIELDS, "")
    form["role"] = role if role in roles else (OWNER if OWNER in roles else roles[0])
    form["must_change_password"] = True
    return _user_form_context(company, form, {})


@view_config(
    route_name="admin_company_user_new", request_method="POST", renderer=USER_FORM_TEMPLATE, permission="platform.admin"
)
def user_create(request: Request):
    company = get_company(request)
    form = text_fields(request.POST, USER_FORM_FIELDS)
    form["password"] = request.POST.get("password", "")
    form["confirm_password"] = request.POST.get("confirm_password", "")
    form["must_change_password"] = checkbox(request.POST, "must_change_password")
    errors: dict[str, str] = {}
    if form["password"] != form["confirm_password"]:
        errors["confirm_password"] = "The two passwords differ."
    else:
        data = NewUser(
            username=form["username"],
            password=form["password"],
            role=form["role"],
            name=form["name"],
            email=form["email"],
            must_change_password=form["must_change_password"],
        )
        try:
            user = create_company_user(request, company, data)
        except UserError as error:
            errors = error.fields or {"form": error.message}
    if errors:
        request.response.status_int = 400
        form["password"] = form["confirm_password"] = ""
        return _user_form_context(company, form, errors)
    flash(request, f"User {user.username} ({user.role}) created in {company.name}.")
    return HTTPSeeOther(request.route_url("admin_company", id=company.id))


@view_config(
    route_name="admin_user_password", request_method="GET", renderer=PASSWORD_TEMPLATE, permission="platform.admin"
)
def password_form(request: Request):
    company, user = get_company_user(request)
    return {"section": "companies", "target": company, "user": user, "errors": {}}


@view_config(
    route_name="admin_user_password", request_method="POST", renderer=PASSWORD_TEMPLATE, permission="platform.admin"
)
def password_reset(request: Request):
    company, user = get_company_user(request)
    password = request.POST.get("password", "")
    context = {"section": "companies", "target": company, "user": user, "errors": {}}
    if password != request.POST.get("confirm_password", ""):
        context["errors"] = {"confirm_password": "The two passwords differ."}
    else:
        try:
            temporary = reset_user_password(request, user, password)
        except UserError as error:
            context["errors"] = error.fields or {"form": error.message}
    if context["errors"]:
        request.response.status_int = 400
        return context
    if not password:
        # A generated password is shown once, on this response only.
        request.response.cache_control = "no-store"
        return {**context, "generated": temporary}
    flash(request, f"Password of {user.username} reset: they must choose a new one at their next sign-in.")
    return HTTPSeeOther(request.route_url("admin_company", id=company.id))


def _set_active(request: Request, active: bool):
    company, user = get_company_user(request)
    try:
        changed = set_user_active(request, user, active)
    except UserError as error:
        flash(request, error.message, "error")
        return HTTPSeeOther(request.route_url("admin_company", id=company.id))
    if not changed:
        flash(request, f"{user.username} is already {'active' if active else 'inactive'}.", "info")
    elif active:
        flash(request, f"{user.username} can sign in again.")
    else:
        flash(request, f"{user.username} is deactivated and signed out everywhere.")
    return HTTPSeeOther(request.route_url("admin_company", id=company.id))


@view_config(route_name="admin_user_deactivate", request_method="POST", permission="platform.admin")
def user_deactivate(request: Request):
    return _set_active(request, False)


@view_config(route_name="admin_user_reactivate", request_method="POST", permission="platform.admin")
def user_reactivate(request: Request):
    return _set_active(request, True)


@view_config(route_name="admin_user_two_factor_reset", request_method="POST", permission="platform.admin")
def two_factor_reset(request: Request):
    """Reset the second factor of a user of any company."""
    company, user = get_company_user(request)
    try:
        with unscoped(request.dbsession):
            reset(request, user)
    except TwoFactorError as error:
        return reset_refused(request, error)
    flash(request, f"The second factor of {user.username} is reset.")
    return HTTPSeeOther(request.route_url("admin_company", id=company.id))


def includeme(config) -> None:
    base = r"/admin/companies/{id:\d+}/users"
    config.add_route("admin_company_user_new", base + "/new")
    config.add_route("admin_user_password", base + r"/{user_id:\d+}/password")
    config.add_route("admin_user_deactivate", base + r"/{user_id:\d+}/deactivate")
    config.add_route("admin_user_reactivate", base + r"/{user_id:\d+}/reactivate")
    config.add_route("admin_user_two_factor_reset", base + r"/{user_id:\d+}/two-factor/reset")
    config.scan(__name__)
