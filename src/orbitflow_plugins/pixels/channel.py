"""The ``pixels.meta`` and ``pixels.tiktok`` delivery channels: one POST per batch of up
to 1,000 events of one company, with that company's own token.

Events older than seven days are not sent (the platforms refuse them) and fail with a
note. Meta answers errors with HTTP 4xx/5xx; TikTok answers HTTP 200 with a ``code`` in
the body, which is read the same way (rate limit and server errors are retried).
A company whose deliveries keep failing (an expired or revoked token, typically) gets a
warning in the system log.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.orm import sessionmaker

from orbitflow.config import get_settings
from orbitflow.crypto import encryptor
from orbitflow.db import unscoped
from orbitflow.deliveries import Delivery, SendResult
from orbitflow.deliveries.http import post_for_result
from orbitflow.models.meta import utcnow
from orbitflow.shared import shared
from orbitflow_plugins.pixels import payloads
from orbitflow_plugins.pixels.events import META_CHANNEL, TIKTOK_CHANNEL, company_of_destination
from orbitflow_plugins.pixels.settings import Defaults, ServerConfig, server_config, settings_row

log = logging.getLogger(__name__)

WARN_AFTER_FAILURES = 3
WARN_EVERY = timedelta(hours=6)
# TikTok's body codes that mean "try again later": rate limited, internal errors.
TIKTOK_RETRY_CODES = frozenset({40100, 50000, 50001, 50002})
UNREADABLE = (
    "the {platform} access token cannot be decrypted: ENCRYPTION_KEY no longer lists the key it was encrypted "
    "with. Enter the token again in Settings → Pixels (or put the old key back behind the new one)"
)


def defaults_of(registry) -> Defaults:
    settings = get_settings(registry)
    return Defaults(settings.facebook_pixel_id, settings.tiktok_pixel_id)


def _encode(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class PixelChannel:
    """What the two channels share: batching, the age limit, the company's settings."""

    name = ""
    platform = ""
    max_batch = payloads.MAX_BATCH

    def __init__(self, registry):
        self.registry = registry
        settings = get_settings(registry).deliveries
        self.timeout = settings.http_timeout_seconds
        self.allow_private = settings.allow_private_networks
        self.meta_api_url = settings.pixels_meta_api_url
        self.tiktok_api_url = settings.pixels_tiktok_api_url

    def _settings(self, company_id: int) -> ServerConfig:
        with shared(self.registry, sessionmaker)() as session, unscoped(session):
            return server_config(session, company_id, encryptor(self.registry))

    def send(self, deliveries: Sequence[Delivery]) -> list[SendResult]:
        company_id = company_of_destination(deliveries[0].destination)
        if company_id is None or any(row.company_id != company_id for row in deliveries):
            # Never send one company's events with another's token.
            return [SendResult("failed", None, "the delivery's destination is not its company")] * len(deliveries)
        config = self._settings(company_id)
        oldest = time.time() - payloads.MAX_EVENT_AGE_SECONDS
        results: list[SendResult | None] = []
        fresh: list[int] = []
        for index, row in enumerate(deliveries):
            if int(row.payload.get("event", {}).get("event_time", 0)) < oldest:
                results.append(SendResult("failed", None, "older than 7 days: the platform no longer accepts it"))
            else:
                results.append(None)
                fresh.append(index)
        if fresh:
            answer = self.post(config, [deliveries[i].payload["event"] for i in fresh])
            for index in fresh:
                results[index] = answer
        return [result for result in results if result is not None]

    def post(self, config: ServerConfig, events: list[dict]) -> SendResult:
        raise NotImplementedError

    def settled(self, session, delivery: Delivery, status: str, result: SendResult) -> None:
        """Count failures in a row per company; warn in the system log when they keep
        coming, at most every six hours."""
        if status not in ("delivered", "failed", "dead"):
            return
        row = settings_row(session, delivery.company_id)
        if row is None:
            return
        if status == "delivered":
            if row.consecutive_failures:
                row.consecutive_failures = 0
            return
        row.consecutive_failures += 1
        now = utcnow()
        if row.consecutive_failures >= WARN_AFTER_FAILURES and (
            row.failure_warned_at is None or now - row.failure_warned_at >= WARN_EVERY
        ):
            row.failure_warned_at = now
            entry = {
                "level": "WARN",
                "source": "SERVER_ACTION",
                "endpoint": f"delivery:{self.name}",
                "status": result.status_code,
                "message": (
                    f"{self.platform} server events of this company keep failing "
                    f"({row.consecutive_failures} in a row; last answer {result.status_code or 'none'}: "
                    f"{result.excerpt[:200]}). Check the access token in Settings → Pixels."
                ),
                "company_id": delivery.company_id,
            }
            # Written once this transaction has committed (its own transaction: SQLite
            # has one writer at a time).
            event.listen(session, "after_commit", lambda _session: self._warn(entry), once=True)

    def _warn(self, entry: dict) -> None:
        from orbitflow.syslog.services import write_entry

        write_entry(self.registry, **entry)


class MetaChannel(PixelChannel):
    name = META_CHANNEL
    platform = "Meta"

    def post(self, config: ServerConfig, events: list[dict]) -> SendResult:
        if config.facebook_token_unreadable:
            return SendResult("failed", None, UNREADABLE.format(platform="Meta"))
        if not config.facebook_pixel_id or not config.facebook_access_token:
            return SendResult("failed", None, "no Meta pixel id or access token is set")
        body: dict = {"data": events, "access_token": config.facebook_access_token}
        if config.test_event_code:
            body["test_event_code"] = config.test_event_code
        url = f"{self.meta_api_url}/{payloads.META_API_VERSION}/{config.facebook_pixel_id}/events"
        return post_for_result(url, _encode(body), {}, timeout=self.timeout, allow_private=self.allow_private)


class TikTokChannel(PixelChannel):
    name = TIKTOK_CHANNEL
    platform = "TikTok"

    def post(self, config: ServerConfig, events: list[dict]) -> SendResult:
        if config.tiktok_token_unreadable:
            return SendResult("failed", None, UNREADABLE.format(platform="TikTok"))
        if not config.tiktok_pixel_code or not config.tiktok_access_token:
            return SendResult("failed", None, "no TikTok pixel code or access token is set")
        body: dict = {"event_source": "web", "event_source_id": config.tiktok_pixel_code, "data": events}
        if config.test_event_code:
            body["test_event_code"] = config.test_event_code
        url = f"{self.tiktok_api_url}/open_api/v1.3/event/track/"
        result = post_for_result(
            url,
            _encode(body),
            {"Access-Token": config.tiktok_access_token},
            timeout=self.timeout,
            allow_private=self.allow_private,
        )
        return read_tiktok(result)


def read_tiktok(result: SendResult) -> SendResult:
    """An HTTP 200 from TikTok is a success only when its body's ``code`` is 0."""
    if result.outcome != "delivered":
        return result
    try:
        code = json.loads(result.excerpt).get("code")
    except (ValueError, AttributeError):
        return result
    if code in (0, None):
        return result
    outcome = "retry" if code in TIKTOK_RETRY_CODES else "failed"
    return SendResult(outcome, result.status_code, result.excerpt)
