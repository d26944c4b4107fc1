"""/api/v1/webhooks: owners and admins manage the company's webhooks."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNoContent
from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.api.helpers import int_param, iso, json_body, paging_parameters
from orbitflow.api.openapi import api_operation, api_schema, list_of, ref
from orbitflow.audit.services import audit
from orbitflow.config import get_settings
from orbitflow.crypto import encryptor
from orbitflow.deliveries import Delivery, DeliveryAttempt
from orbitflow.web.errors import APIError, invalid_fields
from orbitflow.web.inputs import parse_id
from orbitflow.webhooks import services
from orbitflow.webhooks.events import EVENT_TYPES
from orbitflow.webhooks.models import Webhook

PERMISSION = "webhooks.manage"
JSON = "application/json"
ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
DELIVERY_PARAM = {"name": "delivery_id", "in": "path", "required": True, "schema": {"type": "integer"}}

_EVENTS_SCHEMA = {"type": "array", "items": {"type": "string", "enum": list(EVENT_TYPES)}, "minItems": 1}
_URL_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 2000, "description": "http:// or https:// address"}
_DESCRIPTION_SCHEMA = {"type": "string", "maxLength": 200}
api_schema(
    "Webhook",
    {
        "type": "object",
        "required": ["id", "url", "events", "description", "is_active"],
        "properties": {
            "id": {"type": "integer"},
            "url": {"type": "string"},
            "events": _EVENTS_SCHEMA,
            "description": {"type": "string"},
            "is_active": {"type": "boolean"},
            "disabled_reason": {"type": "string", "nullable": True},
            "consecutive_failures": {"type": "integer"},
            "last_success_at": {"type": "string", "format": "date-time", "nullable": True},
            "last_failure_at": {"type": "string", "format": "date-time", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
)
api_schema(
    "WebhookWithSecret",
    {
        "allOf": [
            ref("Webhook"),
            {"type": "object", "required": ["secret"], "properties": {"secret": {"type": "string"}}},
        ]
    },
)
api_schema(
    "WebhookInput",
    {
        "type": "object",
        "required": ["url", "events"],
        "properties": {"url": _URL_SCHEMA, "events": _EVENTS_SCHEMA, "description": _DESCRIPTION_SCHEMA},
    },
)
api_schema(
    "WebhookPatch",
    {
        "type": "object",
        "properties": {
            "url": _URL_SCHEMA,
            "events": _EVENTS_SCHEMA,
            "description": _DESCRIPTION_SCHEMA,
            "is_active": {"type": "boolean"},
        },
    },
)
api_schema(
    "WebhookDelivery",
    {
        "type": "object",
        "required": ["id", "event_id", "type", "status", "attempts"],
        "properties": {
            "id": {"type": "integer"},
            "event_id": {"type": "string"},
            "type": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "sending", "delivered", "failed", "dead"]},
            "attempts": {"type": "integer"},
            "next_attempt_at": {"type": "string", "format": "date-time", "nullable": True},
            "last_status_code": {"type": "integer", "nullable": True},
            "last_excerpt": {"type": "string", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "delivered_at": {"type": "string", "format": "date-time", "nullable": True},
            "payload": {"type": "object"},
            "attempt_log": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "number": {"type": "integer"},
                        "outcome": {"type": "string"},
                        "status_code": {"type": "integer", "nullable": True},
                        "excerpt": {"type": "string"},
                        "duration_ms": {"type": "integer"},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
    },
)


def webhook_json(webhook: Webhook) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "url": webhook.url,
        "events": list(webhook.events),
        "description": webhook.description,
        "is_active": webhook.is_active,
        "disabled_reason": webhook.disabled_reason,
        "consecutive_failures": webhook.consecutive_failures,
        "last_success_at": iso(webhook.last_success_at),
        "last_failure_at": iso(webhook.last_failure_at),
        "created_at": iso(webhook.created_at),
        "updated_at": iso(webhook.updated_at),
    }


def delivery_json(delivery: Delivery, attempts: list[DeliveryAttempt]) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "type": delivery.payload.get("type"),
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.status in ("pending", "sending") else None,
        "last_status_code": delivery.last_status_code,
        "last_excerpt": delivery.last_excerpt,
        "created_at": iso(delivery.created_at),
        "delivered_at": iso(delivery.delivered_at),
        "payload": delivery.payload,
        "attempt_log": [
            {
                "number": attempt.number,
                "outcome": attempt.outcome,
                "status_code": attempt.status_code,
                "excerpt": attempt.excerpt,
                "duration_ms": attempt.duration_ms,
                "created_at": iso(attempt.created_at),
            }
            for attempt in attempts
        ],
    }


def allow_private(request: Request) -> bool:
    return get_settings(request.registry).deliveries.allow_private_networks


def webhook_or_404(request: Request) -> Webhook:
    webhook_id = parse_id(request.matchdict["id"])
    webhook = request.dbsession.get(Webhook, webhook_id) if webhook_id else None
    if webhook is None:
        raise APIError(404, "No such webhook.")
    return webhook


def _ok(name: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref(name)}}}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": ref(name)}}}


@api_operation(
    "api_webhooks", "/api/v1/webhooks", "get", summary="The company's webhooks", responses={"200": _ok("WebhookList")}
)
@view_config(route_name="api_webhooks", request_method="GET", renderer="json", permission=PERMISSION)
def list_webhooks(request: Request):
    items = services.list_webhooks(request.dbsession)
    return {"items": [webhook_json(item) for item in items], "total": len(items), "page": 1, "per_page": len(items)}


api_schema("WebhookList", list_of("Webhook"))


@api_operation(
    "api_webhooks",
    "/api/v1/webhooks",
    "post",
    summary="Create a webhook",
    description="Answers with the signing `secret` (whsec_...), which is shown only this once.",
    requestBody=_body("WebhookInput"),
    responses={"201": _ok("WebhookWithSecret", "Created"), "422": {"description": "Invalid fields"}},
)
@view_config(route_name="api_webhooks", request_method="POST", renderer="json", permission=PERMISSION)
def create_webhook(request: Request):
    body = json_body(request)
    try:
        webhook, secret = services.create_webhook(
            request.dbsession,
            company_id=request.identity.company_id,
            created_by_id=request.identity.user_id,
            data=body,
            allow_private=allow_private(request),
            encryptor=encryptor(request.registry),
        )
    except services.WebhookError as error:
        raise invalid_fields(error.fields) from None
    audit(request, "webhook.create", webhook, changes={"url": webhook.url, "events": webhook.events})
    request.response.status_int = 201
    request.response.cache_control = "no-store"
    return {**webhook_json(webhook), "secret": secret}


@api_operation(
    "api_webhook",
    "/api/v1/webhooks/{id}",
    "get",
    summary="A webhook",
    parameters=[ID_PARAM],
    responses={"200": _ok("Webhook")},
)
@view_config(route_name="api_webhook", request_method="GET", renderer="json", permission=PERMISSION)
def get_webhook(request: Request):
    return webhook_json(webhook_or_404(request))


@api_operation(
    "api_webhook",
    "/api/v1/webhooks/{id}",
    "patch",
    summary="Change a webhook",
    description="`is_active: true` enables a webhook that was disabled after failures and clears its failure count.",
    parameters=[ID_PARAM],
    requestBody=_body("WebhookPatch"),
    responses={"200": _ok("Webhook"), "422": {"description": "Invalid fields"}},
)
@view_config(route_name="api_webhook", request_method="PATCH", renderer="json", permission=PERMISSION)
def patch_webhook(request: Request):
    webhook = webhook_or_404(request)
    body = json_body(request)
    try:
        changes = services.update_webhook(request.dbsession, webhook, body, allow_private=allow_private(request))
    except services.WebhookError as error:
        raise invalid_fields(error.fields) from None
    if changes:
        audit(request, "webhook.update", webhook, changes=changes)
    return webhook_json(webhook)


@api_operation(
    "api_webhook",
    "/api/v1/webhooks/{id}",
    "delete",
    summary="Delete a webhook and its delivery log",
    parameters=[ID_PARAM],
    responses={"204": {"description": "Deleted"}},
)
@view_config(route_name="api_webhook", request_method="DELETE", permission=PERMISSION)
def delete_webhook(request: Request):
    webhook = webhook_or_404(request)
    audit(request, "webhook.delete", webhook, changes={"url": webhook.url, "events": webhook.events})
    services.delete_webhook(request.dbsession, webhook)
    return HTTPNoContent()


@api_operation(
    "api_webhook_secret",
    "/api/v1/webhooks/{id}/secret",
    "post",
    summary="Rotate the signing secret",
    description="Answers with the new secret (shown once). For 24 hours deliveries carry a second signature "
    "made with the old secret, so receivers can switch without losing events.",
    parameters=[ID_PARAM],
    responses={"200": _ok("WebhookWithSecret")},
)
@view_config(route_name="api_webhook_secret", request_method="POST", renderer="json", permission=PERMISSION)
def rotate_secret(request: Request):
    webhook = webhook_or_404(request)
    secret = services.rotate_secret(request.dbsession, webhook, encryptor(request.registry))
    audit(request, "webhook.rotate_secret", webhook)
    request.response.cache_control = "no-store"
    return {**webhook_json(webhook), "secret": secret}


@api_operation(
    "api_webhook_test",
    "/api/v1/webhooks/{id}/test",
    "post",
    summary="Send a test event",
    description="Queues a `webhook.test` delivery; its answer appears in the webhook's deliveries.",
    parameters=[ID_PARAM],
    responses={"202": _ok("WebhookDelivery", "Queued")},
)
@view_config(route_name="api_webhook_test", request_method="POST", renderer="json", permission=PERMISSION)
def send_test(request: Request):
    webhook = webhook_or_404(request)
    if not webhook.is_active:
        raise APIError(409, "The webhook is disabled; enable it first.")
    delivery = services.send_test(request.dbsession, webhook)
    audit(request, "webhook.test", webhook, changes={"delivery_id": delivery.id})
    request.response.status_int = 202
    return delivery_json(delivery, [])


@api_operation(
    "api_webhook_deliveries",
    "/api/v1/webhooks/{id}/deliveries",
    "get",
    summary="A webhook's deliveries, newest first, with every attempt's answer",
    parameters=[
        ID_PARAM,
        *paging_parameters(),
    ],
    responses={"200": _ok("WebhookDeliveryList")},
)
@view_config(route_name="api_webhook_deliveries", request_method="GET", renderer="json", permission=PERMISSION)
def list_deliveries(request: Request):
    webhook = webhook_or_404(request)
    page = int_param(request, "page", 1)
    per_page = int_param(request, "per_page", 25, maximum=100)
    result = services.deliveries_of(request.dbsession, webhook, page=page, per_page=per_page)
    return {
        "items": [delivery_json(item, result.attempts[item.id]) for item in result.items],
        "total": result.total,
        "page": page,
        "per_page": per_page,
    }


api_schema("WebhookDeliveryList", list_of("WebhookDelivery"))


@api_operation(
    "api_webhook_resend",
    "/api/v1/webhooks/{id}/deliveries/{delivery_id}/resend",
    "post",
    summary="Send a delivery again",
    description="Same `webhook-id`, so receivers that already have it can tell. 409 while it is still on its way.",
    parameters=[ID_PARAM, DELIVERY_PARAM],
    responses={"202": _ok("WebhookDelivery", "Queued"), "409": {"description": "Still pending"}},
)
@view_config(route_name="api_webhook_resend", request_method="POST", renderer="json", permission=PERMISSION)
def resend_delivery(request: Request):
    webhook = webhook_or_404(request)
    delivery_id = parse_id(request.matchdict["delivery_id"])
    delivery = services.delivery_of(request.dbsession, webhook, delivery_id) if delivery_id else None
    if delivery is None:
        raise APIError(404, "No such delivery.")
    if not services.resend_delivery(request.dbsession, delivery):
        raise APIError(409, "This delivery is still on its way.")
    audit(request, "webhook.resend", webhook, changes={"delivery_id": delivery.id, "event_id": delivery.event_id})
    request.response.status_int = 202
    return delivery_json(delivery, [])


def includeme(config) -> None:
    config.add_route("api_webhooks", "/api/v1/webhooks")
    config.add_route("api_webhook", r"/api/v1/webhooks/{id:\d+}")
    config.add_route("api_webhook_secret", r"/api/v1/webhooks/{id:\d+}/secret")
    config.add_route("api_webhook_test", r"/api/v1/webhooks/{id:\d+}/test")
    config.add_route("api_webhook_deliveries", r"/api/v1/webhooks/{id:\d+}/deliveries")
    config.add_route("api_webhook_resend", r"/api/v1/webhooks/{id:\d+}/deliveries/{delivery_id:\d+}/resend")
    config.scan(__name__)
