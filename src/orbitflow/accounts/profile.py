"""Settings → Profile: name, email and password of the signed-in user, and "log out
everywhere"."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPForbidden, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.accounts.identity import current_user
from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import hash_password, password_problems, verify_password
from orbitflow.accounts.validation import FieldError, normalise_email, normalise_name
from orbitflow.audit.services import audit, diff
from orbitflow.security import forget, remember
from orbitflow.web.layout import flash

PROFILE_TEMPLATE = "orbitflow:accounts/templates/profile.jinja2"
PASSWORD_TEMPLATE = "orbitflow:accounts/templates/password.jinja2"


def change_password(request: Request, user: User, current: str, new: str, confirm: str | None = None) -> dict[str, str]:
    """Change the password; returns errors by field (empty on success). ``confirm``, when
    given, must repeat ``new``.

    Bumps the session version so every other session of the user ends; the caller
    re-issues this session's cookie with :func:`orbitflow.security.remember`.
    """
    errors: dict[str, str] = {}
    if not isinstance(current, str) or not verify_password(user.password_hash, current):
        errors["current_password"] = "The current password is not correct."
    if not isinstance(new, str) or not new:
        errors["new_password"] = "Enter a new password."
    else:
        problems = password_problems(new, username=user.username, company_slug=user.company.subscription_id)
        if not problems and verify_password(user.password_hash, new):
            problems.append("Choose a password different from the current one.")
        if problems:
            errors["new_password"] = " ".join(problems)
    if confirm is not None and confirm != new and "new_password" not in errors:
        errors["confirm_password"] = "The two new passwords differ."
    if errors:
        return errors
    was_forced = user.must_change_password
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.session_version += 1
    audit(request, "auth.password_change", user, changes={"forced": was_forced} if was_forced else None)
    return {}


def end_all_sessions(request: Request, user: User) -> None:
    """Every session of ``user`` ends, on every device (this one too)."""
    user.session_version += 1
    audit(request, "auth.logout_all", user)


def update_profile(request: Request, user: User, *, name: str | None, email: str | None) -> dict[str, str]:
    """Save name and email; returns errors by field (empty on success)."""
    errors: dict[str, str] = {}
    values: dict[str, str | None] = {}
    for field, normalise, raw in (("name", normalise_name, name), ("email", normalise_email, email)):
        try:
            values[field] = normalise(raw)
        except FieldError as error:
            errors[field] = str(error)
    if errors:
        return errors
    before = {"name": user.name, "email": user.email}
    user.name, user.email = values["name"] or "", values["email"]
    changes = diff(before, {"name": user.name, "email": user.email})
    if changes:
        audit(request, "user.update", user, changes=changes)
    return {}


@view_config(route_name="profile", request_method="GET", renderer=PROFILE_TEMPLATE, permission="profile.edit")
def profile_form(request: Request):
    user = _session_user(request)
    return {"user": user, "form": {"name": user.name, "email": user.email or ""}, "errors": {}}


@view_config(route_name="profile", request_method="POST", renderer=PROFILE_TEMPLATE, permission="profile.edit")
def profile_submit(request: Request):
    user = _session_user(request)
    form = {"name": request.POST.get("name", ""), "email": request.POST.get("email", "")}
    errors = update_profile(request, user, name=form["name"], email=form["email"])
    if errors:
        request.response.status_int = 400
        return {"user": user, "form": form, "errors": errors}
    flash(request, "Profile saved.")
    return HTTPSeeOther(request.route_url("profile"))


@view_config(route_name="password_change", request_method="GET", renderer=PASSWORD_TEMPLATE, permission="profile.edit")
def password_form(request: Request):
    _session_user(request)
    return {"errors": {}, "forced": request.identity.must_change_password}


@view_config(route_name="password_change", request_method="POST", renderer=PASSWORD_TEMPLATE, permission="profile.edit")
def password_submit(request: Request):
    user = _session_user(request)
    errors = change_password(
        request,
        user,
        request.POST.get("current_password", ""),
        request.POST.get("new_password", ""),
        confirm=request.POST.get("confirm_password", ""),
    )
    if errors:
        request.response.status_int = 400
        return {"errors": errors, "forced": request.identity.must_change_password}
    flash(request, "Password changed. Your other sessions have been signed out.")
    return HTTPSeeOther(request.route_url("home"), headers=remember(request, user))


@view_config(route_name="logout_everywhere", request_method="POST", permission="profile.edit")
def logout_everywhere(request: Request):
    end_all_sessions(request, _session_user(request))
    flash(request, "You have been signed out on every device.", "info")
    return HTTPSeeOther(request.route_url("login"), headers=forget(request))


def _session_user(request: Request) -> User:
    user = current_user(request)
    if user is None:  # an API key has no profile
        raise HTTPForbidden("Sign in to use your profile.")
    return user


def includeme(config) -> None:
    config.add_route("profile", "/settings/profile")
    config.add_route("password_change", "/settings/password")
    config.add_route("logout_everywhere", "/settings/sessions/end-all")
    config.scan(__name__)
