"""Webhook subscriptions: create, change, rotate, test, and their deliveries.

Functions take the request's session (bound to the company) and plain values; the views
check permissions and write the audit entries.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orbitflow.companycache import CompanyReader
from orbitflow.crypto import Encryptor, Undecryptable
from orbitflow.db import unscoped
from orbitflow.deliveries import Delivery, DeliveryAttempt, Outgoing, enqueue, enqueue_many, resend
from orbitflow.deliveries.http import BlockedDestination, check_literal_host
from orbitflow.events import new_event_id
from orbitflow.models.meta import utcnow
from orbitflow.webhooks.events import EVENT_TYPES, HOOK_EVENT_TYPES, TEST_EVENT, body, data_of, event_id_of
from orbitflow.webhooks.models import Webhook, destination_of

CHANNEL = "webhook"
MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 200
MAX_WEBHOOKS_PER_COMPANY = 50
# The old secret keeps signing (as a second signature) this long after a rotation.
ROTATION_OVERLAP = timedelta(hours=24)


class WebhookError(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{name}: {message}" for name, message in fields.items()))
        self.fields = fields


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def clean_input(data: dict[str, Any], *, allow_private: bool, partial: bool = False) -> dict[str, Any]:
    """Validate url, events, description (those present when ``partial``)."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if "url" in data or not partial:
        url = data.get("url")
        if not isinstance(url, str) or not url.strip():
            errors["url"] = "Enter the address to send events to."
        elif len(url.strip()) > MAX_URL_LENGTH:
            errors["url"] = f"Keep the address under {MAX_URL_LENGTH} characters."
        else:
            try:
                check_literal_host(url.strip(), allow_private=allow_private)
                clean["url"] = url.strip()
            except BlockedDestination as error:
                errors["url"] = str(error)
    if "events" in data or not partial:
        events = data.get("events")
        if isinstance(events, str):
            events = [events]
        if not isinstance(events, list) or not events or not all(isinstance(item, str) for item in events):
            errors["events"] = f"Choose at least one event: {', '.join(EVENT_TYPES)}."
        elif unknown := sorted(set(events) - set(EVENT_TYPES)):
            errors["events"] = f"Unknown event {unknown[0]!r}; choose from {', '.join(EVENT_TYPES)}."
        else:
            clean["events"] = [item for item in EVENT_TYPES if item in events]
    if "description" in data:
        description = data.get("description")
        if description is None:
            description = ""
        if not isinstance(description, str):
            errors["description"] = "The description must be text."
        elif len(description.strip()) > MAX_DESCRIPTION_LENGTH:
            errors["description"] = f"Keep the description under {MAX_DESCRIPTION_LENGTH} characters."
        else:
            clean["description"] = description.strip()
    if errors:
        raise WebhookError(errors)
    return clean


def list_webhooks(session: Session) -> list[Webhook]:
    return list(session.scalars(select(Webhook).order_by(Webhook.created_at, Webhook.id)))


def create_webhook(
    session: Session,
    *,
    company_id: int,
    created_by_id: int | None,
    data: dict[str, Any],
    allow_private: bool,
    encryptor: Encryptor,
) -> tuple[Webhook, str]:
    """The new webhook and its signing secret (stored encrypted; shown this once)."""
    clean = clean_input(data, allow_private=allow_private)
    count = session.scalar(select(func.count()).select_from(Webhook).where(Webhook.company_id == company_id))
    if count >= MAX_WEBHOOKS_PER_COMPANY:
        raise WebhookError({"url": f"A company can have at most {MAX_WEBHOOKS_PER_COMPANY} webhooks."})
    secret = new_secret()
    webhook = Webhook(
        company_id=company_id,
        url=clean["url"],
        events=clean["events"],
        description=clean.get("description", ""),
        secret_encrypted=encryptor.encrypt(secret),
        created_by_id=created_by_id,
    )
    session.add(webhook)
    session.flush()
    return webhook, secret


def update_webhook(session: Session, webhook: Webhook, data: dict[str, Any], *, allow_private: bool) -> dict:
    """Apply url/events/description/is_active; returns the audit diff. Enabling a
    disabled webhook clears its failure count."""
    clean = clean_input(data, allow_private=allow_private, partial=True)
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            raise WebhookError({"is_active": "Send true or false."})
        clean["is_active"] = data["is_active"]
    changes: dict[str, Any] = {}
    for key, value in clean.items():
        if getattr(webhook, key) != value:
            changes[key] = {"from": getattr(webhook, key), "to": value}
            setattr(webhook, key, value)
    if changes.get("is_active", {}).get("to") is True:
        webhook.consecutive_failures = 0
        webhook.disabled_reason = None
    if changes:
        webhook.updated_at = utcnow()
        session.flush()
    return changes


def rotate_secret(session: Session, webhook: Webhook, encryptor: Encryptor) -> str:
    """A new signing secret (answered, to show once); the old one signs too for a day."""
    secret = new_secret()
    try:
        webhook.previous_secret_encrypted = encryptor.rotate(webhook.secret_encrypted)
    except Undecryptable:
        webhook.previous_secret_encrypted = None  # its key is gone: it cannot sign anyway
    webhook.previous_secret_until = utcnow() + ROTATION_OVERLAP
    webhook.secret_encrypted = encryptor.encrypt(secret)
    webhook.updated_at = utcnow()
    session.flush()
    return secret


def signing_secrets(webhook: Webhook, encryptor: Encryptor) -> list[str]:
    """The secrets that sign its deliveries now: its own, and the one it replaced for a
    day after a rotation. Raises :class:`orbitflow.crypto.Undecryptable` when
    ENCRYPTION_KEY no longer lists the key they were encrypted with."""
    secrets = [encryptor.decrypt(webhook.secret_encrypted)]
    if webhook.previous_secret_encrypted and webhook.previous_secret_until and webhook.previous_secret_until > utcnow():
        secrets.append(encryptor.decrypt(webhook.previous_secret_encrypted))
    return secrets


def reencrypt_secrets(webhook: Webhook, encryptor: Encryptor) -> bool:
    """Move its secrets to ENCRYPTION_KEY's first key; False when they are there already."""
    moved = False
    for name in ("secret_encrypted", "previous_secret_encrypted"):
        value = getattr(webhook, name)
        if value and not encryptor.is_current(value):
            setattr(webhook, name, encryptor.rotate(value))
            moved = True
    return moved


def delete_webhook(session: Session, webhook: Webhook) -> None:
    """The webhook and its deliveries (their log goes with it)."""
    for delivery in session.scalars(
        select(Delivery).where(Delivery.channel == CHANNEL, Delivery.destination == webhook.destination)
    ):
        session.delete(delivery)
    session.delete(webhook)
    session.flush()


def send_test(session: Session, webhook: Webhook) -> Delivery:
    """A ``webhook.test`` ping through the outbox, like any other delivery."""
    event_id = new_event_id()
    enqueue(
        session,
        company_id=webhook.company_id,
        channel=CHANNEL,
        destination=webhook.destination,
        payload=body(TEST_EVENT, {"webhook_id": webhook.id, "message": "Test event from OrbitFlow"}),
        event_id=event_id,
    )
    return session.scalars(
        select(Delivery).where(
            Delivery.channel == CHANNEL, Delivery.destination == webhook.destination, Delivery.event_id == event_id
        )
    ).one()


def _load_subscriptions(session: Session, company_id: int) -> tuple[tuple[int, tuple[str, ...]], ...]:
    active = session.execute(
        select(Webhook.id, Webhook.events).where(Webhook.company_id == company_id, Webhook.is_active.is_(True))
    )
    return tuple((webhook_id, tuple(events or ())) for webhook_id, events in active)


# (webhook id, event types) of the company's active webhooks: read in every change's
# transaction, so cached per process (see orbitflow.companycache for how fresh).
subscriptions = CompanyReader("webhooks.subscriptions", [Webhook.__table__], _load_subscriptions)


def subscribed_destinations(session: Session, company_id: int, event_type: str) -> list[str]:
    """The destinations of the company's active webhooks that take ``event_type``."""
    return [
        destination_of(webhook_id) for webhook_id, events in subscriptions(session, company_id) if event_type in events
    ]


# A webhook body over this size goes without the quiz answers (and says so).
MAX_BODY_BYTES = 64 * 1024


def enqueue_for_domain_event(session: Session, name: str, event) -> int:
    """The ``domain_event_in_transaction`` side of webhooks: runs in the change's
    transaction, so the deliveries exist exactly when the change does."""
    event_type = HOOK_EVENT_TYPES.get(name)
    if event_type is None:
        return 0
    # The queries name the event's company themselves; a public page's session may be
    # bound to no company.
    with unscoped(session):
        destinations = subscribed_destinations(session, event.company_id, event_type)
        if not destinations:
            return 0
        data = data_of(session, event)
    if data is None:
        return 0
    # Only quiz answers make a body large; the outbox caps every payload anyway.
    if data.get("answers") and len(json.dumps(data, default=str)) > MAX_BODY_BYTES:
        data = {**{key: value for key, value in data.items() if key != "answers"}, "answers": [], "truncated": True}
    payload, event_id = body(event_type, data), event_id_of(event)
    return enqueue_many(
        session,
        [Outgoing(event.company_id, CHANNEL, destination, payload, event_id) for destination in destinations],
    )


@dataclass(frozen=True)
class DeliveryPage:
    items: list[Delivery]
    attempts: dict[int, list[DeliveryAttempt]]
    total: int


def deliveries_of(session: Session, webhook: Webhook, *, page: int = 1, per_page: int = 25) -> DeliveryPage:
    where = (Delivery.channel == CHANNEL, Delivery.destination == webhook.destination)
    total = session.scalar(select(func.count()).select_from(Delivery).where(*where)) or 0
    items = list(
        session.scalars(
            select(Delivery)
            .where(*where)
            .order_by(Delivery.created_at.desc(), Delivery.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    attempts: dict[int, list[DeliveryAttempt]] = {item.id: [] for item in items}
    if items:
        for attempt in session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(list(attempts)))
            .order_by(DeliveryAttempt.number)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return DeliveryPage(items, attempts, total)


def delivery_of(session: Session, webhook: Webhook, delivery_id: int) -> Delivery | None:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.channel != CHANNEL or delivery.destination != webhook.destination:
        return None
    return delivery


def resend_delivery(session: Session, delivery: Delivery) -> bool:
    """Queue a settled delivery again; False when it is still on its way."""
    if delivery.status in ("pending", "sending"):
        return False
    resend(session, delivery)
    session.flush()
    return True


def webhook_of_destination(session: Session, destination: str) -> Webhook | None:
    prefix, _, raw = destination.partition(":")
    if prefix != "webhook" or not raw.isdigit():
        return None
    return session.get(Webhook, int(raw))


__all__ = ["CHANNEL", "WebhookError", "destination_of"]
