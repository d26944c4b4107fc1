"""Settings → Profile: name, email and password of the signed-in user, their active
sessions (end any one of them), and "log out everywhere"."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.accounts.identity import current_user
from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import hash_password, password_problems, verify_password
from orbitflow.accounts.sessions import (
    active_sessions,
    browser_summary,
    end_session,
    end_sessions_of,
    signed_out_headers,
)
from orbitflow.accounts.two_factor import is_enrolled
from orbitflow.accounts.validation import FieldError, normalise_email, normalise_name
from orbitflow.audit.services import audit, diff
from orbitflow.config import get_settings
from orbitflow.web.inputs import path_id
from orbitflow.web.layout import flash

PROFILE_TEMPLATE = "orbitflow:accounts/templates/profile.jinja2"
PASSWORD_TEMPLATE = "orbitflow:accounts/templates/password.jinja2"


def change_password(request: Request, user: User, current: str, new: str, confirm: str | None = None) -> dict[str, str]:
    """Change the password; returns errors by field (empty on success). ``confirm``, when
    given, must repeat ``new``.

    Every other session of the user ends; this request's session goes on.
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
    ended = end_sessions_of(request.dbsession, user, "password_change", keep_id=request.identity.session_id)
    changes = {"sessions_ended": ended}
    if was_forced:
        changes["forced"] = True
    audit(request, "auth.password_change", user, changes=changes)
    return {}


def end_all_sessions(request: Request, user: User) -> None:
    """Every session of ``user`` ends, on every device (this one too)."""
    ended = end_sessions_of(request.dbsession, user, "logout_all")
    audit(request, "auth.logout_all", user, changes={"sessions_ended": ended})


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


def _profile_context(request: Request, user: User, form: dict, errors: dict) -> dict:
    this_one = request.identity.session_id
    sessions = [
        {"row": row, "browser": browser_summary(row.user_agent), "current": row.id == this_one}
        for row in active_sessions(request.dbsession, get_settings(request.registry), user)
    ]
    return {
        "user": user,
        "form": form,
        "errors": errors,
        "sessions": sessions,
        "two_factor_on": is_enrolled(request.dbsession, user),
    }


@view_config(route_name="profile", request_method="GET", renderer=PROFILE_TEMPLATE, permission="profile.edit")
def profile_form(request: Request):
    user = session_user(request)
    return _profile_context(request, user, {"name": user.name, "email": user.email or ""}, {})


@view_config(route_name="profile", request_method="POST", renderer=PROFILE_TEMPLATE, permission="profile.edit")
def profile_submit(request: Request):
    user = session_user(request)
    form = {"name": request.POST.get("name", ""), "email": request.POST.get("email", "")}
    errors = update_profile(request, user, name=form["name"], email=form["email"])
    if errors:
        request.response.status_int = 400
        return _profile_context(request, user, form, errors)
    flash(request, "Profile saved.")
    return HTTPSeeOther(request.route_url("profile"))


@view_config(route_name="password_change", request_method="GET", renderer=PASSWORD_TEMPLATE, permission="profile.edit")
def password_form(request: Request):
    session_user(request)
    return {"errors": {}, "forced": request.identity.must_change_password}


@view_config(route_name="password_change", request_method="POST", renderer=PASSWORD_TEMPLATE, permission="profile.edit")
def password_submit(request: Request):
    user = session_user(request)
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
    return HTTPSeeOther(request.route_url("home"))


@view_config(route_name="logout_everywhere", request_method="POST", permission="profile.edit")
def logout_everywhere(request: Request):
    end_all_sessions(request, session_user(request))
    flash(request, "You have been signed out on every device.", "info")
    return HTTPSeeOther(request.route_url("login"), headers=signed_out_headers(request))


@view_config(route_name="session_end", request_method="POST", permission="profile.edit")
def session_end(request: Request):
    """End one of my sessions (another device's, or this one). Someone else's is not found."""
    user = session_user(request)
    session_id = path_id(request)
    settings = get_settings(request.registry)
    mine = {row.id: row for row in active_sessions(request.dbsession, settings, user)}
    row = mine.get(session_id)
    if row is None:
        raise HTTPNotFound("No such session.")
    end_session(request.dbsession, row, "ended_by_user")
    audit(
        request,
        "auth.session_end",
        user,
        changes={"session": row.id, "browser": browser_summary(row.user_agent), "ip": row.ip},
    )
    if row.id == request.identity.session_id:
        flash(request, "You have been signed out.", "info")
        return HTTPSeeOther(request.route_url("login"), headers=signed_out_headers(request))
    flash(request, f"Session ended: {browser_summary(row.user_agent)} ({row.ip or 'unknown address'}) is signed out.")
    return HTTPSeeOther(request.route_url("profile"))


def session_user(request: Request) -> User:
    user = current_user(request)
    if user is None:  # an API key has no profile
        raise HTTPForbidden("Sign in to use your profile.")
    return user


def includeme(config) -> None:
    config.add_route("profile", "/settings/profile")
    config.add_route("password_change", "/settings/password")
    config.add_route("logout_everywhere", "/settings/sessions/end-all")
    config.add_route("session_end", r"/settings/sessions/{id:\d+}/end")
    config.scan(__name__)
