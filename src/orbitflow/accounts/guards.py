"""Request guards: the forced password change, the forced second-factor enrolment and the
impersonation read-only rule.

Both run when the route is known and before the view's permission check, so they cover
every route, including those plugins add.
"""

from __future__ import annotations

from pyramid.events import ContextFound, subscriber
from pyramid.httpexceptions import HTTPForbidden, HTTPFound
from pyramid.registry import Registry
from pyramid.security import NO_PERMISSION_REQUIRED

from orbitflow.shared import provide, provided

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Routes a user who must change the password may still reach (besides public routes).
PASSWORD_CHANGE_ROUTES = {"password_change", "logout", "api_me", "api_me_password"}
# Unsafe routes allowed while impersonating: leaving the impersonation.
# Routes a user who must enrol a second factor may still reach (the password change first).
TWO_FACTOR_ENROL_ROUTES = {
    "two_factor",
    "two_factor_start",
    "two_factor_confirm",
    "logout",
    "api_me",
    *PASSWORD_CHANGE_ROUTES,
}
IMPERSONATION_EXITS = {"impersonation_stop", "logout"}
READ_ONLY_MESSAGE = "Read-only while impersonating: stop impersonating to make changes."
CHANGE_PASSWORD_MESSAGE = "Change your password first (POST /api/v1/me/password)."
ENROL_MESSAGE = "Your company requires two-factor sign-in: set it up first (Settings → Profile)."


class PublicRoutes(frozenset[str]):
    """Names of the routes whose every view is public."""


def public_routes(registry: Registry) -> PublicRoutes:
    """Routes whose every view is public (login, health, public quiz pages...).

    Computed once from the introspector, so routes added by plugins count too.
    """
    routes = provided(registry, PublicRoutes)
    if routes is None:
        permissions: dict[str, set] = {}
        introspector = registry.introspector
        for view in introspector.get_category("views") or ():
            route_name = view["introspectable"]["route_name"]
            if route_name is None:
                continue
            declared = {perm["value"] for perm in view["related"] if perm.category_name == "permissions"}
            permissions.setdefault(route_name, set()).update(declared or {None})
        routes = provide(
            registry, PublicRoutes(name for name, perms in permissions.items() if perms == {NO_PERMISSION_REQUIRED})
        )
    return routes


@subscriber(ContextFound)
def enforce_guards(event: ContextFound) -> None:
    request = event.request
    route = request.matched_route.name if request.matched_route else None
    if route is None or request.path_info.startswith("/static/"):
        return
    identity = request.identity
    if identity is None:
        return
    if identity.is_impersonating and request.method not in SAFE_METHODS and route not in IMPERSONATION_EXITS:
        raise HTTPForbidden(READ_ONLY_MESSAGE)
    if (
        identity.must_change_password
        and route not in PASSWORD_CHANGE_ROUTES
        and route not in public_routes(request.registry)
    ):
        if request.path_info.startswith("/api/"):
            raise HTTPForbidden(CHANGE_PASSWORD_MESSAGE)
        raise HTTPFound(request.route_url("password_change"))
    if (
        identity.must_enrol_two_factor
        and route not in TWO_FACTOR_ENROL_ROUTES
        and route not in public_routes(request.registry)
    ):
        if request.path_info.startswith("/api/"):
            raise HTTPForbidden(ENROL_MESSAGE)
        raise HTTPFound(request.route_url("two_factor"))


def includeme(config) -> None:
    config.scan(__name__)
