"""The ``webhook`` delivery channel: one signed JSON POST per delivery.

Signatures follow Standard Webhooks (through the ``standardwebhooks`` library):
``webhook-id`` is the event id (the same on every retry, so receivers can drop
duplicates), ``webhook-timestamp`` the attempt's time, ``webhook-signature`` one
``v1,<base64>`` per valid secret (two for a day after a rotation).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import sessionmaker
from standardwebhooks.webhooks import Webhook as Signer

from orbitflow.audit.services import record
from orbitflow.config import get_settings
from orbitflow.crypto import Undecryptable, encryptor
from orbitflow.db import unscoped
from orbitflow.deliveries import Delivery, SendResult
from orbitflow.deliveries.http import post_for_result
from orbitflow.mail.notifications import notify_webhook_disabled
from orbitflow.models.meta import utcnow
from orbitflow.shared import shared
from orbitflow.webhooks.models import Webhook
from orbitflow.webhooks.services import (
    CHANNEL,
    reencrypt_secrets,
    signing_secrets,
    webhook_of_destination,
)

DEFAULT_DISABLE_AFTER = 20
# last_success_at is kept to the minute: a healthy webhook's successes write nothing more.
SUCCESS_PRECISION = timedelta(minutes=1)


def signed_headers(secrets: Sequence[str], message_id: str, data: str, when: datetime) -> dict[str, str]:
    signatures = " ".join(Signer(secret).sign(message_id, when, data) for secret in secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signatures,
    }


def encode(payload: dict) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)


class WebhookChannel:
    name = CHANNEL
    max_batch = 20

    def __init__(self, registry):
        self.registry = registry
        settings = get_settings(registry)
        self.timeout = settings.deliveries.http_timeout_seconds
        self.allow_private = settings.deliveries.allow_private_networks
        self.disable_after = int(settings.extra.get("orbitflow.webhooks.disable_after_failures", DEFAULT_DISABLE_AFTER))
        self._lock = threading.Lock()
        # Each webhook as the last batch read it, so recording a success of a healthy
        # webhook costs no statement.
        self._seen: dict[str, tuple[int, datetime | None] | None] = {}

    def _webhook(self, destination: str) -> Webhook | None:
        with shared(self.registry, sessionmaker)() as session, unscoped(session):
            webhook = webhook_of_destination(session, destination)
            if webhook is not None:
                try:
                    if reencrypt_secrets(webhook, encryptor(self.registry)):
                        # ENCRYPTION_KEY has a new first key: the secrets move to it now.
                        session.commit()
                except Undecryptable:
                    pass  # send_one answers for it
                session.expunge(webhook)
        with self._lock:
            self._seen[destination] = (
                None if webhook is None else (webhook.consecutive_failures, webhook.last_success_at)
            )
        return webhook

    def send(self, deliveries: Sequence[Delivery]) -> list[SendResult]:
        """Deliveries of one webhook, one POST each; the webhook is read once per batch."""
        webhook = self._webhook(deliveries[0].destination)
        return [self.send_one(delivery, webhook) for delivery in deliveries]

    def send_one(self, delivery: Delivery, webhook: Webhook | None) -> SendResult:
        if webhook is None:
            return SendResult("failed", None, "the webhook was deleted")
        if not webhook.is_active:
            return SendResult("failed", None, "the webhook is disabled")
        try:
            secrets = signing_secrets(webhook, encryptor(self.registry))
        except Undecryptable:
            # Kept for retries: the operator can put the missing key back in ENCRYPTION_KEY.
            return SendResult("retry", None, "the signing secret cannot be decrypted: ENCRYPTION_KEY lacks its key")
        data = encode(delivery.payload)
        headers = signed_headers(secrets, delivery.event_id, data, datetime.now(UTC))
        return post_for_result(
            webhook.url, data.encode(), headers, timeout=self.timeout, allow_private=self.allow_private
        )

    def settled(self, session, delivery: Delivery, status: str, result: SendResult) -> None:
        """Count consecutive failed deliveries; disable the webhook after too many."""
        if status not in ("delivered", "failed", "dead"):
            return
        with self._lock:
            known = self._seen.get(delivery.destination)
        now = utcnow()
        healthy = known is not None and known[0] == 0 and known[1] is not None and now - known[1] < SUCCESS_PRECISION
        if status == "delivered" and healthy:
            return  # nothing to count: the common case costs no statement
        webhook = webhook_of_destination(session, delivery.destination)
        if webhook is None:
            return
        if status == "delivered":
            webhook.consecutive_failures = 0
            webhook.last_success_at = now
            with self._lock:
                self._seen[delivery.destination] = (0, now)
            return
        webhook.consecutive_failures += 1
        webhook.last_failure_at = now
        with self._lock:
            self._seen[delivery.destination] = (webhook.consecutive_failures, webhook.last_success_at)
        if webhook.is_active and webhook.consecutive_failures >= self.disable_after:
            webhook.is_active = False
            webhook.disabled_reason = (
                f"Disabled after {webhook.consecutive_failures} failed deliveries in a row "
                f"(last answer: {result.status_code or 'none'} {result.excerpt[:120]})."
            )
            record(
                session,
                "webhook.disable",
                company_id=webhook.company_id,
                actor_id=None,
                actor_name="system",
                target_type="webhook",
                target_id=webhook.id,
                changes={"is_active": {"from": True, "to": False}, "reason": webhook.disabled_reason},
            )
            notify_webhook_disabled(session, webhook)
