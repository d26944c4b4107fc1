"""Signed values of the public quiz pages: one-time form tokens and hashed addresses.

A form token is ``<quiz id>.<issued at>.<nonce>.<signature>``: the signature (HMAC-SHA256
with the app secret) proves the server issued it for that quiz at that time, which gives
the minimum fill time without any server-side state; the nonce becomes the submission's
unique ``token`` column, so one rendered form can store one submission only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

NONCE_BYTES = 12
# A form older than this is refused; the visitor gets a fresh one with their answers kept.
MAX_TOKEN_AGE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class FormToken:
    quiz_id: int
    issued_at: int
    nonce: str

    def age(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.issued_at


def _key(secret: str, purpose: str) -> bytes:
    return hashlib.sha256(f"orbitflow.quiz.{purpose}|{secret}".encode()).digest()


def _signature(secret: str, payload: str) -> str:
    digest = hmac.new(_key(secret, "token"), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def issue_token(secret: str, quiz_id: int, *, issued_at: int | None = None, nonce: str | None = None) -> str:
    issued = int(time.time()) if issued_at is None else int(issued_at)
    nonce = nonce or secrets.token_urlsafe(NONCE_BYTES)
    payload = f"{quiz_id}.{issued}.{nonce}"
    return f"{payload}.{_signature(secret, payload)}"


def read_token(secret: str | tuple[str, ...], raw: str | None, quiz_id: int) -> FormToken | None:
    """The token's contents when it is well-formed, signed by us (with any of ``secret``
    when several are given: AUTH_SECRET and AUTH_SECRET_PREVIOUS) and for this quiz."""
    secrets_ = (secret,) if isinstance(secret, str) else secret
    if not raw or len(raw) > 120:
        return None
    parts = raw.split(".")
    if len(parts) != 4:
        return None
    quiz_part, issued_part, nonce, signature = parts
    payload = f"{quiz_part}.{issued_part}.{nonce}"
    if not any(hmac.compare_digest(signature, _signature(key, payload)) for key in secrets_):
        return None
    try:
        token = FormToken(int(quiz_part), int(issued_part), nonce)
    except ValueError:
        return None
    if token.quiz_id != quiz_id or not 8 <= len(nonce) <= 32:
        return None
    return token


def hash_value(secret: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 hex of ``value``: stable for counting and rate limits, not reversible
    without the secret."""
    return hmac.new(_key(secret, purpose), value.encode(), hashlib.sha256).hexdigest()


def hash_ip(secret: str, ip: str) -> str:
    return hash_value(secret, "ip", ip)
