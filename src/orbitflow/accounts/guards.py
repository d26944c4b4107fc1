"""Request guards: the forced password change and the impersonation read-only rule."""

from __future__ import annotations

from pyramid.events import ContextFound, subscriber
from pyramid.httpexceptions import HTTPForbidden, HTTPFound

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Routes a user who must change the password may still reach.
PASSWORD_CHANGE_ROUTES = {"password_change", "logout", "login", "health", "api_me", "api_me_password", "root_redirect"}
# Unsafe routes allowed while impersonating: leaving the impersonation.
IMPERSONATION_EXITS = {"impersonation_stop", "logout"}
READ_ONLY_MESSAGE = "Read-only while impersonating: stop impersonating to make changes."


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
    if identity.must_change_password and route not in PASSWORD_CHANGE_ROUTES:
        if request.path_info.startswith("/api/"):
            raise HTTPForbidden("Change your password first (POST /api/v1/me/password).")
        raise HTTPFound(request.route_url("password_change"))


def includeme(config) -> None:
    config.scan(__name__)
