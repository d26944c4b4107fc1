"""The second step of a sign-in: a code from the app, or a recovery code.

The password step left a challenge (a row and a cookie of this browser, a few minutes
long), not a session: nothing but this page accepts it. The session is issued here, once
the code is right.
"""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from orbitflow.accounts import totp
from orbitflow.accounts.services import signed_in
from orbitflow.accounts.signin_challenge import challenge_headers, end_challenge, find_challenge
from orbitflow.accounts.signin_limits import signin_guard
from orbitflow.accounts.two_factor import TwoFactorError, verify_second_factor
from orbitflow.accounts.views import finish_sign_in
from orbitflow.config import get_settings
from orbitflow.web.layout import flash

TEMPLATE = "orbitflow:accounts/templates/login_two_factor.jinja2"
EXPIRED = "Your sign-in took too long or was already used. Sign in again."


def _back_to_login(request: Request) -> HTTPSeeOther:
    flash(request, EXPIRED, "info")
    return HTTPSeeOther(request.route_url("login"), headers=challenge_headers(get_settings(request.registry), None))


@view_config(route_name="login_two_factor", request_method="GET", renderer=TEMPLATE, permission=NO_PERMISSION_REQUIRED)
def second_step_form(request: Request):
    if request.identity is not None:
        return HTTPFound(request.route_url("home"))
    if find_challenge(request) is None:
        return _back_to_login(request)
    request.response.cache_control = "no-store"
    return {"error": None}


@view_config(route_name="login_two_factor", request_method="POST", renderer=TEMPLATE, permission=NO_PERMISSION_REQUIRED)
def second_step_submit(request: Request):
    found = find_challenge(request)
    if found is None:
        return _back_to_login(request)
    challenge, user = found
    try:
        accepted = verify_second_factor(request, user, request.POST.get("code"), step="sign_in")
    except TwoFactorError as error:
        request.response.status_int = error.status
        if error.retry_after:
            request.response.headers["Retry-After"] = str(error.retry_after)
            # Locked out for a while: this sign-in is over, the next starts with the password.
            end_challenge(request.dbsession, challenge)
            request.response.headers.extend(challenge_headers(get_settings(request.registry), None))
        return {"error": error.message}
    end_challenge(request.dbsession, challenge)
    guard = signin_guard(request.registry)
    attempt = guard.attempt(user.company.subscription_id, user.username, request.client_ip)
    signed_in(
        request.dbsession,
        guard,
        attempt,
        user,
        ip=request.client_ip,
        user_agent=request.user_agent,
        changes={"second_factor": accepted.kind},
    )
    if accepted.kind == totp.RECOVERY:
        left = accepted.recovery_codes_left
        flash(
            request,
            f"You signed in with a recovery code; {left} left. Make new ones in Settings → Profile "
            "if you are running out.",
            "info" if left > 2 else "error",
        )
    response = finish_sign_in(request, user, challenge.next_url or "")
    response.headers.extend(challenge_headers(get_settings(request.registry), None))
    return response


def includeme(config) -> None:
    config.add_route("login_two_factor", "/login/two-factor")
    config.scan(__name__)
