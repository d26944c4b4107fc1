"""Values every page template can use: the user, navigation, flash messages, CSRF token."""

from __future__ import annotations

from pyramid.csrf import get_csrf_token

from orbitflow.plugins import nav_items

FLASH_COOKIE = "orbitflow_flash"


def add_layout_globals(event) -> None:
    request = event.get("request")
    if request is None or getattr(request, "is_api", False):
        return
    # An error page may pass identity=None itself: the database may be what failed.
    values = event.rendering_val if isinstance(event.rendering_val, dict) else {}
    identity = values["identity"] if "identity" in values else request.identity  # noqa: SIM401 (lazy)
    event.setdefault("identity", identity)
    event.setdefault("csrf_token", get_csrf_token(request))
    event.setdefault("nonce", request.csp_nonce)
    if identity is not None:
        event.setdefault("nav", nav_items(request))
        event.setdefault("settings_nav", nav_items(request, "settings_pages"))
        event.setdefault("company", _company(request))
    else:
        event.setdefault("nav", [])
        event.setdefault("settings_nav", [])
        event.setdefault("company", None)
    event.setdefault("flashes", _pop_flashes(request))


def _company(request):
    from orbitflow.tenants.models import Company

    return request.dbsession.get(Company, request.identity.company_id)


def _pop_flashes(request) -> list[tuple[str, str]]:
    if FLASH_COOKIE not in request.cookies:
        return []  # no flash waiting: do not start a session cookie
    messages = []
    for queue in ("success", "error", "info"):
        for message in request.session.pop_flash(queue):
            messages.append((queue, message))
    return messages


def flash(request, message: str, queue: str = "success") -> None:
    request.session.flash(message, queue)
