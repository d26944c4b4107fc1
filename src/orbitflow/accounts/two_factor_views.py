"""Two-factor sign-in pages: Profile → Two-factor sign-in (enrol, recovery codes, turn off),
Settings → Security (an owner requires it of the company), and an owner's reset of a user's
second factor (a super admin's: :mod:`orbitflow.superadmin.users`)."""

from __future__ import annotations

from collections.abc import Callable

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from orbitflow.accounts import totp
from orbitflow.accounts.models import User
from orbitflow.accounts.profile import session_user
from orbitflow.accounts.two_factor import (
    TwoFactorError,
    account_label,
    confirm_enrolment,
    disable,
    pending_secret,
    recovery_codes_left,
    regenerate_recovery_codes,
    reset,
    secret_row,
    set_requirement,
    start_enrolment,
    users_without_two_factor,
)
from orbitflow.tenants.models import Company
from orbitflow.web.inputs import path_id
from orbitflow.web.layout import flash

PAGE_TEMPLATE = "orbitflow:accounts/templates/two_factor.jinja2"
CODES_TEMPLATE = "orbitflow:accounts/templates/two_factor_codes.jinja2"
POLICY_TEMPLATE = "orbitflow:accounts/templates/two_factor_policy.jinja2"


def _page_context(request: Request, user: User, errors: dict[str, str] | None = None) -> dict:
    row = secret_row(request.dbsession, user)
    context: dict = {
        "user": user,
        "errors": errors or {},
        "enrolled": row is not None and row.confirmed_at is not None,
        "confirmed_at": row.confirmed_at if row is not None else None,
        "required": user.company.require_two_factor,
        "forced": request.identity.must_enrol_two_factor,
        "pending": None,
    }
    if context["enrolled"]:
        context["codes_left"] = recovery_codes_left(request.dbsession, user)
    elif row is not None:
        secret = pending_secret(request, row)
        if secret is not None:
            uri = totp.provisioning_uri(secret, account_label(user))
            context["pending"] = {"secret": totp.grouped(secret), "qr": totp.qr_svg(uri), "uri": uri}
    # The secret is on this page: keep it out of caches.
    request.response.cache_control = "no-store"
    return context


def _page_error(request: Request, user: User, error: TwoFactorError):
    response = render_to_response(
        PAGE_TEMPLATE, _page_context(request, user, {error.field or "form": error.message}), request=request
    )
    response.status_int = error.status
    response.cache_control = "no-store"  # the page may show the pending secret
    if error.retry_after:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _codes_page(request: Request, codes: list[str], title: str):
    response = render_to_response(
        CODES_TEMPLATE, {"codes": [totp.shown(code) for code in codes], "title": title}, request=request
    )
    # Shown once: never stored by the browser or a proxy.
    response.cache_control = "no-store"
    return response


@view_config(route_name="two_factor", request_method="GET", renderer=PAGE_TEMPLATE, permission="profile.edit")
def two_factor_page(request: Request):
    return _page_context(request, session_user(request))


def _profile_form(act: Callable[[Request, User], Response]) -> Callable[[Request], Response]:
    """A form of Profile → Two-factor sign-in: the signed-in user acts through a service,
    and a refusal renders the page again with its message by the field, and its status."""

    def view(request: Request) -> Response:
        user = session_user(request)
        try:
            return act(request, user)
        except TwoFactorError as error:
            return _page_error(request, user, error)

    view.__name__, view.__doc__ = act.__name__, act.__doc__
    return view


@view_config(route_name="two_factor_start", request_method="POST", permission="profile.edit")
@_profile_form
def two_factor_start(request: Request, user: User) -> Response:
    start_enrolment(request, user)
    return HTTPSeeOther(request.route_url("two_factor"))


@view_config(route_name="two_factor_confirm", request_method="POST", permission="profile.edit")
@_profile_form
def two_factor_confirm(request: Request, user: User) -> Response:
    codes = confirm_enrolment(request, user, request.POST.get("code"))
    return _codes_page(request, codes, "Two-factor sign-in is on")


@view_config(route_name="two_factor_recovery_codes", request_method="POST", permission="profile.edit")
@_profile_form
def two_factor_recovery_codes(request: Request, user: User) -> Response:
    codes = regenerate_recovery_codes(request, user, request.POST.get("code"))
    return _codes_page(request, codes, "New recovery codes")


@view_config(route_name="two_factor_disable", request_method="POST", permission="profile.edit")
@_profile_form
def two_factor_disable(request: Request, user: User) -> Response:
    disable(request, user, request.POST.get("password"), request.POST.get("code"))
    flash(request, "Two-factor sign-in is off: you sign in with your password alone.", "info")
    return HTTPSeeOther(request.route_url("two_factor"))


# --- the company's requirement -----------------------------------------------------------


def _policy_context(request: Request, company: Company, error: str | None = None) -> dict:
    return {
        "company": company,
        "error": error,
        "without": users_without_two_factor(request.dbsession, company),
    }


@view_config(
    route_name="two_factor_policy", request_method="GET", renderer=POLICY_TEMPLATE, permission="company.two_factor"
)
def policy_page(request: Request):
    return _policy_context(request, request.dbsession.get(Company, request.identity.company_id))


@view_config(
    route_name="two_factor_policy", request_method="POST", renderer=POLICY_TEMPLATE, permission="company.two_factor"
)
def policy_submit(request: Request):
    company = request.dbsession.get(Company, request.identity.company_id)
    required = request.POST.get("required") == "on"
    try:
        changed = set_requirement(request, company, required, session_user(request))
    except TwoFactorError as error:
        request.response.status_int = error.status
        return _policy_context(request, company, error.message)
    if changed:
        flash(
            request,
            "Every user now signs in with a second factor; those without one set it up at their next sign-in."
            if required
            else "A second factor is no longer required.",
        )
    return HTTPSeeOther(request.route_url("two_factor_policy"))


# --- resets ------------------------------------------------------------------------------


def reset_refused(request: Request, error: TwoFactorError):
    response = render_to_response(
        "error.jinja2", {"status": error.status, "title": "Refused", "message": error.message}, request=request
    )
    response.status_int = error.status
    return response


@view_config(route_name="user_two_factor_reset", request_method="POST", permission="users.two_factor_reset")
def owner_reset(request: Request):
    """An owner resets the second factor of a user of their company (others: 404)."""
    user = request.dbsession.get(User, path_id(request))
    if user is None:
        raise HTTPNotFound("No such user.")
    try:
        reset(request, user)
    except TwoFactorError as error:
        return reset_refused(request, error)
    flash(request, f"The second factor of {user.username} is reset: they sign in with their password alone.")
    return HTTPSeeOther(request.route_url("user_edit", id=user.id))


def includeme(config) -> None:
    config.add_route("two_factor", "/settings/two-factor")
    config.add_route("two_factor_start", "/settings/two-factor/start")
    config.add_route("two_factor_confirm", "/settings/two-factor/confirm")
    config.add_route("two_factor_recovery_codes", "/settings/two-factor/recovery-codes")
    config.add_route("two_factor_disable", "/settings/two-factor/disable")
    config.add_route("two_factor_policy", "/settings/security")
    config.add_route("user_two_factor_reset", r"/settings/users/{id:\d+}/two-factor/reset")
    config.scan(__name__)
