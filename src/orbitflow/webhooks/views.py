"""Settings → Webhooks: owners and admins add webhooks, see each one's deliveries with
their answers, send a test, resend a delivery, rotate the secret."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.audit.services import audit
from orbitflow.crypto import encryptor
from orbitflow.web.inputs import parse_page, path_id
from orbitflow.web.layout import flash
from orbitflow.webhooks import services
from orbitflow.webhooks.api import PERMISSION, allow_private
from orbitflow.webhooks.events import EVENT_TYPES
from orbitflow.webhooks.models import Webhook

LIST_TEMPLATE = "orbitflow:webhooks/templates/webhooks.jinja2"
DETAIL_TEMPLATE = "orbitflow:webhooks/templates/webhook.jinja2"


def _form(request: Request) -> dict:
    return {
        "url": request.POST.get("url", ""),
        "description": request.POST.get("description", ""),
        "events": request.POST.getall("events"),
    }


def _list_context(
    request: Request, form: dict | None = None, errors: dict | None = None, created=None, secret: str | None = None
) -> dict:
    return {
        "webhooks": services.list_webhooks(request.dbsession),
        "event_types": EVENT_TYPES,
        "form": form or {"url": "", "description": "", "events": list(EVENT_TYPES)},
        "errors": errors or {},
        "created": created,
        "secret": secret,
    }


def _webhook_or_404(request: Request) -> Webhook:
    webhook = request.dbsession.get(Webhook, path_id(request))
    if webhook is None:
        raise HTTPNotFound("No such webhook.")
    return webhook


def _detail_context(request: Request, webhook: Webhook, *, errors: dict | None = None, form=None, secret=None):
    page = parse_page(request.params.get("page"), maximum=100_000)
    deliveries = services.deliveries_of(request.dbsession, webhook, page=page, per_page=25)
    return {
        "webhook": webhook,
        "event_types": EVENT_TYPES,
        "deliveries": deliveries,
        "page": page,
        "pages": max(1, -(-deliveries.total // 25)),
        "form": form
        or {
            "url": webhook.url,
            "description": webhook.description,
            "events": webhook.events,
            "is_active": webhook.is_active,
        },
        "errors": errors or {},
        "secret": secret,
    }


@view_config(route_name="webhooks", request_method="GET", renderer=LIST_TEMPLATE, permission=PERMISSION)
def webhooks_page(request: Request):
    return _list_context(request)


@view_config(route_name="webhooks", request_method="POST", renderer=LIST_TEMPLATE, permission=PERMISSION)
def webhook_create(request: Request):
    form = _form(request)
    try:
        webhook, secret = services.create_webhook(
            request.dbsession,
            company_id=request.identity.company_id,
            created_by_id=request.identity.user_id,
            data=form,
            allow_private=allow_private(request),
            encryptor=encryptor(request.registry),
        )
    except services.WebhookError as error:
        request.response.status_int = 400
        return _list_context(request, form, error.fields)
    audit(request, "webhook.create", webhook, changes={"url": webhook.url, "events": webhook.events})
    # The secret is shown on this response only. Keep it out of caches.
    request.response.status_int = 201
    request.response.cache_control = "no-store"
    return _list_context(request, created=webhook, secret=secret)


@view_config(route_name="webhook", request_method="GET", renderer=DETAIL_TEMPLATE, permission=PERMISSION)
def webhook_page(request: Request):
    return _detail_context(request, _webhook_or_404(request))


@view_config(route_name="webhook", request_method="POST", renderer=DETAIL_TEMPLATE, permission=PERMISSION)
def webhook_update(request: Request):
    webhook = _webhook_or_404(request)
    form = {**_form(request), "is_active": request.POST.get("is_active") == "on"}
    try:
        changes = services.update_webhook(request.dbsession, webhook, form, allow_private=allow_private(request))
    except services.WebhookError as error:
        request.response.status_int = 400
        return _detail_context(request, webhook, errors=error.fields, form=form)
    if changes:
        audit(request, "webhook.update", webhook, changes=changes)
        flash(request, "Webhook saved.")
    return HTTPSeeOther(request.route_url("webhook", id=webhook.id))


@view_config(route_name="webhook_test", request_method="POST", permission=PERMISSION)
def webhook_test(request: Request):
    webhook = _webhook_or_404(request)
    if not webhook.is_active:
        flash(request, "The webhook is disabled; enable it first.", "error")
        return HTTPSeeOther(request.route_url("webhook", id=webhook.id))
    delivery = services.send_test(request.dbsession, webhook)
    audit(request, "webhook.test", webhook, changes={"delivery_id": delivery.id})
    flash(request, "Test event queued: its answer appears below in a moment (reload).")
    return HTTPSeeOther(request.route_url("webhook", id=webhook.id))


@view_config(route_name="webhook_secret", request_method="POST", renderer=DETAIL_TEMPLATE, permission=PERMISSION)
def webhook_rotate(request: Request):
    webhook = _webhook_or_404(request)
    secret = services.rotate_secret(request.dbsession, webhook, encryptor(request.registry))
    audit(request, "webhook.rotate_secret", webhook)
    request.response.cache_control = "no-store"
    return _detail_context(request, webhook, secret=secret)


@view_config(route_name="webhook_delete", request_method="POST", permission=PERMISSION)
def webhook_delete(request: Request):
    webhook = _webhook_or_404(request)
    audit(request, "webhook.delete", webhook, changes={"url": webhook.url, "events": webhook.events})
    services.delete_webhook(request.dbsession, webhook)
    flash(request, f"Webhook {webhook.url} deleted.")
    return HTTPSeeOther(request.route_url("webhooks"))


@view_config(route_name="webhook_resend", request_method="POST", permission=PERMISSION)
def webhook_resend(request: Request):
    webhook = _webhook_or_404(request)
    delivery = services.delivery_of(request.dbsession, webhook, path_id(request, "delivery_id"))
    if delivery is None:
        raise HTTPNotFound("No such delivery.")
    if services.resend_delivery(request.dbsession, delivery):
        audit(request, "webhook.resend", webhook, changes={"delivery_id": delivery.id, "event_id": delivery.event_id})
        flash(request, "Delivery queued again.")
    else:
        flash(request, "This delivery is still on its way.", "error")
    return HTTPSeeOther(request.route_url("webhook", id=webhook.id))


def includeme(config) -> None:
    config.add_route("webhooks", "/settings/webhooks")
    config.add_route("webhook", r"/settings/webhooks/{id:\d+}")
    config.add_route("webhook_test", r"/settings/webhooks/{id:\d+}/test")
    config.add_route("webhook_secret", r"/settings/webhooks/{id:\d+}/secret")
    config.add_route("webhook_delete", r"/settings/webhooks/{id:\d+}/delete")
    config.add_route("webhook_resend", r"/settings/webhooks/{id:\d+}/deliveries/{delivery_id:\d+}/resend")
    config.scan(__name__)
