"""Sign in, sign out and the dashboard."""

from __future__ import annotations

from urllib.parse import urlsplit

from pyramid.csrf import new_csrf_token
from pyramid.httpexceptions import HTTPFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from orbitflow.accounts.dashboard import dashboard_context
from orbitflow.accounts.models import User
from orbitflow.accounts.services import LoginResult, authenticate, signed_in
from orbitflow.accounts.sessions import current_session, end_session, signed_out_headers, start_session
from orbitflow.accounts.signin_challenge import begin_challenge
from orbitflow.accounts.signin_limits import signin_guard
from orbitflow.accounts.two_factor import is_enrolled
from orbitflow.audit.services import audit

LOGIN_TEMPLATE = "orbitflow:accounts/templates/login.jinja2"


def safe_next(request: Request, target: str | None) -> str:
    """Only paths of this site: never send a user to another host after signing in."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
        and not urlsplit(target).netloc
    ):
        return request.application_url + target
    return request.route_url("home")


@view_config(route_name="login", request_method="GET", renderer=LOGIN_TEMPLATE, permission=NO_PERMISSION_REQUIRED)
def login_form(request: Request):
    if request.identity is not None:
        return HTTPFound(request.route_url("home"))
    return {
        "form": {"subscription_id": request.params.get("subscription_id", "")},
        "error": None,
        "next": request.params.get("next", ""),
    }


@view_config(route_name="login", request_method="POST", renderer=LOGIN_TEMPLATE, permission=NO_PERMISSION_REQUIRED)
def login_submit(request: Request):
    form = {key: request.POST.get(key, "") for key in ("subscription_id", "username", "password")}
    next_url = request.POST.get("next", "")
    if not form["subscription_id"].strip() or not form["username"].strip() or not form["password"]:
        request.response.status_int = 400
        return {
            "form": {**form, "password": ""},
            "error": "Enter your subscription ID, username and password.",
            "next": next_url,
        }
    guard = signin_guard(request.registry)
    result, attempt = authenticate(
        request.dbsession,
        guard,
        form["subscription_id"],
        form["username"],
        form["password"],
        ip=request.client_ip,
        user_agent=request.user_agent,
    )
    if result.user is None:
        # The response is not an error to pyramid_tm: the audit entries commit.
        return login_refused(request, result, {**form, "password": ""}, next_url)
    user = result.user
    if is_enrolled(request.dbsession, user):
        # Not signed in yet: the second step comes first (orbitflow.accounts.two_factor_signin).
        return HTTPSeeOther(request.route_url("login_two_factor"), headers=begin_challenge(request, user, next_url))
    signed_in(request.dbsession, guard, attempt, user, ip=request.client_ip, user_agent=request.user_agent)
    return finish_sign_in(request, user, next_url, needs_two_factor=user.company.require_two_factor)


def finish_sign_in(request: Request, user: User, next_url: str, *, needs_two_factor: bool = False) -> HTTPSeeOther:
    """The session, and where to go: the forced password change, the forced enrolment of a
    second factor, or ``next``."""
    # A new CSRF token for the new session: one planted before sign-in is worthless after.
    new_csrf_token(request)
    if user.must_change_password:
        target = request.route_url("password_change")
    elif needs_two_factor:
        target = request.route_url("two_factor")
    else:
        target = safe_next(request, next_url)
    return HTTPSeeOther(target, headers=start_session(request, user, needs_two_factor=needs_two_factor))


def login_refused(request: Request, result: LoginResult, form: dict, next_url: str) -> dict:
    """The login form again, with the message; 429 and Retry-After when limited."""
    request.response.status_int = 429 if result.retry_after else 400
    if result.retry_after:
        request.response.headers["Retry-After"] = str(result.retry_after)
    return {"form": form, "error": result.error, "next": next_url}


@view_config(route_name="logout", request_method="POST", permission=NO_PERMISSION_REQUIRED)
def logout(request: Request):
    identity = request.identity
    session = current_session(request)
    if session is not None:
        # Ended on the server: the cookie, even a copy of it, signs nobody in any more.
        end_session(request.dbsession, session, "logout")
        if not identity.is_impersonating:
            audit(request, "auth.logout", target_type="user", target_id=identity.user_id)
    new_csrf_token(request)
    return HTTPSeeOther(request.route_url("login"), headers=signed_out_headers(request))


@view_config(
    route_name="home",
    request_method="GET",
    renderer="orbitflow:accounts/templates/dashboard.jinja2",
    permission="dashboard.view",
)
def dashboard(request: Request):
    return dashboard_context(request)


@view_config(route_name="root_redirect", request_method="GET", permission="dashboard.view")
def root_redirect(request: Request):
    # Visitors who are not signed in are sent to the login page by the forbidden view.
    return HTTPFound(request.route_url("home"))


def includeme(config) -> None:
    config.add_route("root_redirect", "/")
    config.add_route("login", "/login")
    config.add_route("logout", "/logout")
    config.add_route("home", "/dashboard")
    config.include(".signin_limits")
    config.include(".profile")
    config.include(".two_factor_views")
    config.include(".two_factor_signin")
    config.include(".guards")
    config.include(".first_steps")
    config.include(".users_views")
    config.include(".apikeys_views")
    config.include(".api")
    config.scan(".views")
