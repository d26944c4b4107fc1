"""/api/v1/pixels: owners and admins read and change the company's pixel settings, send a
test event and read the pixel delivery log."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import func, select

from orbitflow.api.helpers import int_param, iso, json_body, paging_parameters
from orbitflow.api.openapi import api_operation, api_schema, list_of, ref
from orbitflow.audit.services import audit
from orbitflow.crypto import encryptor
from orbitflow.deliveries import Delivery, DeliveryAttempt
from orbitflow.pixel_ids import META_PIXEL_ID, TIKTOK_PIXEL_CODE
from orbitflow.web.errors import APIError, invalid_fields
from orbitflow_plugins.pixels import settings as pixel_settings
from orbitflow_plugins.pixels.channel import defaults_of
from orbitflow_plugins.pixels.events import CHANNELS
from orbitflow_plugins.pixels.testevent import send_test_events

PERMISSION = "pixels.manage"
JSON = "application/json"

_SETTINGS_PROPERTIES: dict[str, Any] = {
    "facebook_pixel_id": {"type": "string", "nullable": True, "pattern": META_PIXEL_ID.pattern},
    "tiktok_pixel_code": {"type": "string", "nullable": True, "pattern": TIKTOK_PIXEL_CODE.pattern},
    "test_event_code": {"type": "string", "nullable": True, "maxLength": 40},
    "require_consent": {"type": "boolean"},
    "meta_won_event": {"type": "string", "maxLength": 40},
    "tiktok_won_event": {"type": "string", "maxLength": 40},
    "disabled_quiz_ids": {"type": "array", "items": {"type": "integer"}},
}
# Answered by GET; a PUT may send them back, and they are ignored.
_READ_ONLY_PROPERTIES: dict[str, Any] = {
    "facebook_access_token_set": {"type": "boolean", "readOnly": True},
    "facebook_access_token_unreadable": {
        "type": "boolean",
        "readOnly": True,
        "description": "A token is stored but ENCRYPTION_KEY no longer lists the key it was encrypted with: "
        "server events fail until it is entered again.",
    },
    "tiktok_access_token_set": {"type": "boolean", "readOnly": True},
    "tiktok_access_token_unreadable": {"type": "boolean", "readOnly": True},
    "default_facebook_pixel_id": {"type": "string", "nullable": True, "readOnly": True},
    "default_tiktok_pixel_code": {"type": "string", "nullable": True, "readOnly": True},
}
api_schema(
    "PixelSettings",
    {
        "type": "object",
        "required": [
            "facebook_pixel_id",
            "facebook_access_token_set",
            "tiktok_pixel_code",
            "tiktok_access_token_set",
            "test_event_code",
            "require_consent",
        ],
        "properties": {
            **_SETTINGS_PROPERTIES,
            **_READ_ONLY_PROPERTIES,
        },
    },
)
api_schema(
    "PixelSettingsInput",
    {
        "type": "object",
        "description": "Only the fields sent change. The tokens are write-only: send a new one to replace it, "
        "null or an empty string to remove it. The read-only fields of a GET may be sent back and are ignored; "
        "any other name is refused.",
        "additionalProperties": False,
        "properties": {
            **_SETTINGS_PROPERTIES,
            **_READ_ONLY_PROPERTIES,
            "facebook_access_token": {"type": "string", "nullable": True, "maxLength": 512, "writeOnly": True},
            "tiktok_access_token": {"type": "string", "nullable": True, "maxLength": 512, "writeOnly": True},
        },
    },
)
api_schema(
    "PixelDelivery",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "platform": {"type": "string", "enum": ["meta", "tiktok"]},
            "event_id": {"type": "string"},
            "event_name": {"type": "string"},
            "kind": {"type": "string", "enum": ["lead", "won", "test"]},
            "status": {"type": "string", "enum": ["pending", "sending", "delivered", "failed", "dead"]},
            "attempts": {"type": "integer"},
            "next_attempt_at": {"type": "string", "format": "date-time", "nullable": True},
            "last_status_code": {"type": "integer", "nullable": True},
            "last_excerpt": {"type": "string", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "delivered_at": {"type": "string", "format": "date-time", "nullable": True},
            "attempt_log": {"type": "array", "items": {"type": "object"}},
        },
    },
)
api_schema("PixelDeliveryList", list_of("PixelDelivery"))


def _ok(name: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref(name)}}}


def settings_json(request: Request) -> dict[str, Any]:
    return pixel_settings.public_json(
        request.dbsession, request.identity.company_id, defaults_of(request.registry), encryptor(request.registry)
    )


def delivery_json(delivery: Delivery, attempts: list[DeliveryAttempt]) -> dict[str, Any]:
    event = delivery.payload.get("event") or {}
    return {
        "id": delivery.id,
        "platform": "meta" if delivery.channel.endswith("meta") else "tiktok",
        "event_id": delivery.event_id,
        "event_name": event.get("event_name") or event.get("event"),
        "kind": delivery.payload.get("kind"),
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.status in ("pending", "sending") else None,
        "last_status_code": delivery.last_status_code,
        "last_excerpt": delivery.last_excerpt,
        "created_at": iso(delivery.created_at),
        "delivered_at": iso(delivery.delivered_at),
        "attempt_log": [
            {
                "number": attempt.number,
                "outcome": attempt.outcome,
                "status_code": attempt.status_code,
                "excerpt": attempt.excerpt,
                "created_at": iso(attempt.created_at),
            }
            for attempt in attempts
        ],
    }


def pixel_deliveries(session, *, page: int, per_page: int) -> tuple[list[Delivery], dict[int, list], int]:
    where = (Delivery.channel.in_(CHANNELS),)
    total = session.scalar(select(func.count()).select_from(Delivery).where(*where)) or 0
    items = list(
        session.scalars(
            select(Delivery)
            .where(*where)
            .order_by(Delivery.created_at.desc(), Delivery.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    attempts: dict[int, list] = {item.id: [] for item in items}
    if items:
        for attempt in session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(list(attempts)))
            .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.number)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return items, attempts, total


@api_operation(
    "api_pixels",
    "/api/v1/pixels",
    "get",
    summary="The company's pixel settings",
    responses={"200": _ok("PixelSettings")},
)
@view_config(route_name="api_pixels", request_method="GET", renderer="json", permission=PERMISSION)
def get_pixels(request: Request):
    request.response.cache_control = "no-store"
    return settings_json(request)


@api_operation(
    "api_pixels",
    "/api/v1/pixels",
    "put",
    summary="Change the company's pixel settings",
    description="Access tokens are stored encrypted and never returned (`*_access_token_set` says whether a usable "
    "one is, `*_access_token_unreadable` whether one is stored that can no longer be decrypted).",
    requestBody={"required": True, "content": {JSON: {"schema": ref("PixelSettingsInput")}}},
    responses={"200": _ok("PixelSettings"), "422": {"description": "Invalid fields"}},
)
@view_config(route_name="api_pixels", request_method="PUT", renderer="json", permission=PERMISSION)
def put_pixels(request: Request):
    body = json_body(request)
    try:
        changes = pixel_settings.update_settings(
            request.dbsession, request.identity.company_id, body, encryptor(request.registry)
        )
    except pixel_settings.PixelSettingsError as error:
        raise invalid_fields(error.fields) from None
    if changes:
        audit(
            request,
            "pixels.update",
            target_type="pixel_settings",
            target_id=request.identity.company_id,
            changes=changes,
        )
    request.response.cache_control = "no-store"
    return settings_json(request)


@api_operation(
    "api_pixels_test",
    "/api/v1/pixels/test",
    "post",
    summary="Send a test event to each platform with an access token",
    description="Queues a `PageView` with the test event code (when set); the answers appear in the pixel deliveries.",
    responses={"202": _ok("PixelDeliveryList", "Queued"), "409": {"description": "No access token is set"}},
)
@view_config(route_name="api_pixels_test", request_method="POST", renderer="json", permission=PERMISSION)
def post_test(request: Request):
    deliveries = send_test_events(request)
    if not deliveries:
        raise APIError(409, "Set a Meta or TikTok access token first.")
    audit(
        request,
        "pixels.test",
        target_type="pixel_settings",
        target_id=request.identity.company_id,
        changes={"event_ids": [delivery.event_id for delivery in deliveries]},
    )
    request.response.status_int = 202
    items = [delivery_json(delivery, []) for delivery in deliveries]
    return {"items": items, "total": len(items), "page": 1, "per_page": len(items)}


@api_operation(
    "api_pixels_deliveries",
    "/api/v1/pixels/deliveries",
    "get",
    summary="The pixel delivery log, newest first, with every attempt's answer",
    parameters=[
        *paging_parameters(),
    ],
    responses={"200": _ok("PixelDeliveryList")},
)
@view_config(route_name="api_pixels_deliveries", request_method="GET", renderer="json", permission=PERMISSION)
def get_deliveries(request: Request):
    page = int_param(request, "page", 1)
    per_page = int_param(request, "per_page", 25, maximum=100)
    items, attempts, total = pixel_deliveries(request.dbsession, page=page, per_page=per_page)
    return {
        "items": [delivery_json(item, attempts[item.id]) for item in items],
        "total": total,
        "page": page,
        "per_page": per_page,
    }
