"""The server events as Meta's Conversions API and TikTok's Events API 1.3 document them.

Contact details are normalised, then SHA-256'd (Meta: ``em`` lower-cased, ``ph`` digits
with the country code and no ``+``; TikTok: ``email`` lower-cased, ``phone`` in E.164);
the IP address, user agent, ``fbc``, ``fbp``, ``ttclid`` and ``ttp`` are sent as they are.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any

META_API_VERSION = "v21.0"
META_LEAD = "Lead"
TIKTOK_LEAD = "SubmitForm"
# Both platforms accept events up to seven days old.
MAX_EVENT_AGE_SECONDS = 7 * 24 * 3600
# Both take at most 1,000 events per request.
MAX_BATCH = 1000


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normal_email(email: str | None) -> str | None:
    value = (email or "").strip().lower()
    return value or None


def e164(phone: str | None) -> str | None:
    """``+`` and digits (leads keep their numbers in E.164 already)."""
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    return f"+{digits}" if digits else None


def fbc_from_click(fbclid: str | None, landed_at_ms: int) -> str | None:
    """Meta's click id parameter, ``fb.1.<ms when the click was seen>.<fbclid>`` with the
    fbclid's case kept (Meta compares it as it is)."""
    if not fbclid:
        return None
    return f"fb.1.{int(landed_at_ms)}.{fbclid}"


def epoch_seconds(when: datetime) -> int:
    """Seconds since the epoch of a naive-UTC time."""
    return int((when - datetime(1970, 1, 1)).total_seconds())


def _money(value: Decimal | float | int | None) -> float:
    return float(value) if value is not None else 0.0


def meta_event(
    *,
    event_name: str,
    event_id: str,
    event_time: int,
    attribution: dict[str, Any],
    email: str | None,
    phone: str | None,
    action_source: str = "website",
    custom_data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    user_data: dict[str, Any] = {}
    if normal_email(email):
        user_data["em"] = [sha256(normal_email(email))]
    number = e164(phone)
    if number:
        user_data["ph"] = [sha256(number.lstrip("+"))]
    for key, name in (
        ("ip", "client_ip_address"),
        ("user_agent", "client_user_agent"),
        ("fbc", "fbc"),
        ("fbp", "fbp"),
    ):
        if attribution.get(key):
            user_data[name] = attribution[key]
    event: dict[str, Any] = {
        "event_name": event_name,
        "event_time": int(event_time),
        "event_id": event_id,
        "action_source": action_source,
        "user_data": user_data,
    }
    if action_source == "website" and attribution.get("page_url"):
        event["event_source_url"] = attribution["page_url"]
    if custom_data:
        event["custom_data"] = custom_data
    return event


def tiktok_event(
    *,
    event_name: str,
    event_id: str,
    event_time: int,
    attribution: dict[str, Any],
    email: str | None,
    phone: str | None,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    user: dict[str, Any] = {}
    if normal_email(email):
        user["email"] = sha256(normal_email(email))
    number = e164(phone)
    if number:
        user["phone"] = sha256(number)
    for key in ("ip", "user_agent", "ttclid", "ttp"):
        if attribution.get(key):
            user[key] = attribution[key]
    event: dict[str, Any] = {
        "event": event_name,
        "event_time": int(event_time),
        "event_id": event_id,
        "user": user,
    }
    if attribution.get("page_url"):
        event["page"] = {"url": attribution["page_url"]}
    if properties:
        event["properties"] = properties
    return event


def won_custom_data(value: Decimal | None, currency: str) -> dict[str, Any]:
    """Meta's fields for a conversion reported from a CRM."""
    return {
        "value": _money(value),
        "currency": currency,
        "event_source": "crm",
        "lead_event_source": "OrbitFlow",
    }


def won_properties(value: Decimal | None, currency: str) -> dict[str, Any]:
    return {"value": _money(value), "currency": currency}
