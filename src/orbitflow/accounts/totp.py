"""Time-based codes (RFC 6238, with ``pyotp``), recovery codes and what a user may type.

Nothing here touches the database: :mod:`orbitflow.accounts.two_factor` stores the secrets
and decides what a code does.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from dataclasses import dataclass

import pyotp
import segno

ISSUER = "OrbitFlow"
# Codes of the step before and after the current one are accepted too: clocks drift.
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: recovery codes are copied from paper by hand.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 10
# Longer input is refused before anything else is done with it.
MAX_CODE_INPUT = 40

TOTP = "totp"
RECOVERY = "recovery"

_TOTP_SHAPE = re.compile(r"[0-9]{6}", re.ASCII)
_RECOVERY_SHAPE = re.compile(f"[{RECOVERY_ALPHABET}]{{{RECOVERY_CODE_LENGTH}}}", re.ASCII)
_SEPARATORS = re.compile(r"[\s-]+")


class CodeFormatError(ValueError):
    """What was typed is not a code at all; the message says what a code looks like."""


@dataclass(frozen=True)
class TypedCode:
    kind: str  # TOTP or RECOVERY
    value: str  # normalised: digits, or the recovery code without separators, lower case


def parse_code(raw: object, *, allow_recovery: bool = True) -> TypedCode:
    """Read a code as typed (spaces and dashes allowed); raise :class:`CodeFormatError`."""
    expected = (
        "Enter the 6-digit code from your authenticator app, or one of your recovery codes."
        if allow_recovery
        else "Enter the 6-digit code from your authenticator app."
    )
    if not isinstance(raw, str) or not raw.strip():
        raise CodeFormatError(expected)
    if len(raw) > MAX_CODE_INPUT:
        raise CodeFormatError(f"That is too long for a code. {expected}")
    compact = _SEPARATORS.sub("", raw).lower()
    if _TOTP_SHAPE.fullmatch(compact):
        return TypedCode(TOTP, compact)
    if allow_recovery and _RECOVERY_SHAPE.fullmatch(compact):
        return TypedCode(RECOVERY, compact)
    if compact.isdigit() or (not allow_recovery):
        raise CodeFormatError(f"A code from the app is 6 digits (0-9). {expected}")
    raise CodeFormatError(f"That is not a code. {expected}")


def new_secret() -> str:
    """A random 160-bit secret in base32, as authenticator apps take it."""
    return pyotp.random_base32()


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code (drawn on the server: no script, no CDN)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, title="QR code for your authenticator app")


def current_step(now: float | None = None, interval: int = 30) -> int:
    return int((time.time() if now is None else now) // interval)


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code ``code`` is (within the allowed drift), or None."""
    totp = pyotp.TOTP(secret)
    step = current_step(now, totp.interval)
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def new_recovery_codes() -> list[str]:
    """Fresh recovery codes, normalised (no separator, lower case)."""
    return [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]


def shown(code: str) -> str:
    """A recovery code as shown to the user: ``abcde-fghjk``."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"
