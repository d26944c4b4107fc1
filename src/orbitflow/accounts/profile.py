"""Settings → Profile: name, email and password of the signed-in user."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.accounts.identity import current_user
from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import hash_password, password_problems, verify_password
from orbitflow.audit.services import audit, diff
from orbitflow.security import remember
from orbitflow.web.layout import flash

PROFILE_TEMPLATE = "orbitflow:accounts/templates/profile.jinja2"
PASSWORD_TEMPLATE = "orbitflow:accounts/templates/password.jinja2"


def normalise_email(raw: str) -> str:
    """Raise ValueError with a message for the user when the address is not valid."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None


def change_password(request: Request, user: User, current: str, new: str) -> dict[str, str]:
    """Change the password; returns errors by field (empty on success).

    Bumps the session version so every other session of the user ends; the caller
    re-issues this session's cookie.
    """
    errors: dict[str, str] = {}
    if not verify_password(user.password_hash, current):
        errors["current_password"] = "The current password is not correct."
    problems = password_problems(new, username=user.username, company_slug=user.company.subscription_id)
    if verify_password(user.password_hash, new):
        problems.append("Choose a password different from the current one.")
    if problems:
        errors["new_password"] = " ".join(problems)
    if errors:
        return errors
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.session_version += 1
    audit(request, "auth.password_change", user)
    return {}


@view_config(route_name="profile", request_method="GET", renderer=PROFILE_TEMPLATE, permission="profile.edit")
def profile_form(request: Request):
    user = current_user(request)
    return {"user": user, "form": {"name": user.name, "email": user.email or ""}, "errors": {}}


@view_config(route_name="profile", request_method="POST", renderer=PROFILE_TEMPLATE, permission="profile.edit")
def profile_submit(request: Request):
    user = current_user(request)
    form = {"name": request.POST.get("name", "").strip(), "email": request.POST.get("email", "").strip()}
    errors = {}
    if len(form["name"]) > 200:
        errors["name"] = "Use at most 200 characters."
    email = None
    if form["email"]:
        try:
            email = normalise_email(form["email"])
        except ValueError as error:
            errors["email"] = str(error)
    if errors:
        request.response.status_int = 400
        return {"user": user, "form": form, "errors": errors}
    before = {"name": user.name, "email": user.email}
    user.name, user.email = form["name"], email
    changes = diff(before, {"name": user.name, "email": user.email})
    if changes:
        audit(request, "user.update", user, changes=changes)
    flash(request, "Profile saved.")
    return HTTPSeeOther(request.route_url("profile"))


@view_config(route_name="password_change", request_method="GET", renderer=PASSWORD_TEMPLATE, permission="profile.edit")
def password_form(request: Request):
    return {"errors": {}, "forced": request.identity.must_change_password}


@view_config(route_name="password_change", request_method="POST", renderer=PASSWORD_TEMPLATE, permission="profile.edit")
def password_submit(request: Request):
    user = current_user(request)
    new_password = request.POST.get("new_password", "")
    if new_password != request.POST.get("confirm_password", ""):
        errors = {"confirm_password": "The two new passwords differ."}
    else:
        errors = change_password(request, user, request.POST.get("current_password", ""), new_password)
    if errors:
        request.response.status_int = 400
        return {"errors": errors, "forced": request.identity.must_change_password}
    flash(request, "Password changed. Your other sessions have been signed out.")
    return HTTPSeeOther(request.route_url("home"), headers=remember(request, user))


def includeme(config) -> None:
    config.add_route("profile", "/settings/profile")
    config.add_route("password_change", "/settings/password")
    config.scan(__name__)
