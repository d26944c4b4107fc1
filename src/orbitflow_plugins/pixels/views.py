"""Settings → Pixels: owners and admins set the pixel ids, tokens and consent rule, switch
quizzes off, send a test event and read the delivery log."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import select

from orbitflow.audit.services import audit
from orbitflow.crypto import encryptor
from orbitflow.web.inputs import parse_id, parse_page
from orbitflow.web.layout import flash
from orbitflow_plugins.pixels import settings as pixel_settings
from orbitflow_plugins.pixels.api import PERMISSION, delivery_json, pixel_deliveries
from orbitflow_plugins.pixels.channel import defaults_of
from orbitflow_plugins.pixels.testevent import send_test_events
from orbitflow_plugins.quiz.models import Quiz

TEMPLATE = "pixels_settings.jinja2"
PER_PAGE = 25


def _context(request: Request, form: dict | None = None, errors: dict | None = None) -> dict:
    current = pixel_settings.public_json(
        request.dbsession, request.identity.company_id, defaults_of(request.registry), encryptor(request.registry)
    )
    page = parse_page(request.params.get("page"), maximum=100_000)
    items, attempts, total = pixel_deliveries(request.dbsession, page=page, per_page=PER_PAGE)
    return {
        "current": current,
        "form": form or current,
        "errors": errors or {},
        "quizzes": list(request.dbsession.scalars(select(Quiz).order_by(Quiz.title, Quiz.id))),
        "deliveries": [delivery_json(item, attempts[item.id]) for item in items],
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
    }


def _posted(request: Request) -> dict:
    post = request.POST
    data: dict = {
        "facebook_pixel_id": post.get("facebook_pixel_id", ""),
        "tiktok_pixel_code": post.get("tiktok_pixel_code", ""),
        "test_event_code": post.get("test_event_code", ""),
        "require_consent": post.get("require_consent") == "on",
        "meta_won_event": post.get("meta_won_event", ""),
        "tiktok_won_event": post.get("tiktok_won_event", ""),
    }
    enabled = set(post.getall("quiz_on"))
    listed = {value: parse_id(value) for value in post.getall("quiz_listed")}
    data["disabled_quiz_ids"] = [
        quiz_id for value, quiz_id in listed.items() if quiz_id is not None and value not in enabled
    ]
    # Write-only: an empty box keeps the stored token; the remove box removes it.
    for name in pixel_settings.TOKEN_FIELDS:
        if post.get(f"remove_{name}") == "on":
            data[name] = None
        elif post.get(name, "").strip():
            data[name] = post.get(name)
    return data


@view_config(route_name="pixels_settings", request_method="GET", renderer=TEMPLATE, permission=PERMISSION)
def settings_page(request: Request):
    return _context(request)


@view_config(route_name="pixels_settings", request_method="POST", renderer=TEMPLATE, permission=PERMISSION)
def settings_save(request: Request):
    data = _posted(request)
    try:
        changes = pixel_settings.update_settings(
            request.dbsession, request.identity.company_id, data, encryptor(request.registry)
        )
    except pixel_settings.PixelSettingsError as error:
        request.tm.doom()
        request.response.status_int = 400
        form = {key: value for key, value in data.items() if key not in pixel_settings.TOKEN_FIELDS}
        return _context(request, {**_context(request)["current"], **form}, error.fields)
    if changes:
        audit(
            request,
            "pixels.update",
            target_type="pixel_settings",
            target_id=request.identity.company_id,
            changes=changes,
        )
        flash(request, "Pixel settings saved.")
    return HTTPSeeOther(request.route_url("pixels_settings"))


@view_config(route_name="pixels_test", request_method="POST", permission=PERMISSION)
def send_test(request: Request):
    deliveries = send_test_events(request)
    if not deliveries:
        flash(request, "Set a Meta or TikTok access token first.", "error")
    else:
        audit(
            request,
            "pixels.test",
            target_type="pixel_settings",
            target_id=request.identity.company_id,
            changes={"event_ids": [delivery.event_id for delivery in deliveries]},
        )
        flash(request, "Test event queued: its answer appears in the delivery log in a moment (reload).")
    return HTTPSeeOther(request.route_url("pixels_settings"))
