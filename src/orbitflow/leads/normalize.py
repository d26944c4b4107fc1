"""Cleaning what people type into a lead: email, phone, money, tags, UTM fields.

Each function returns the stored form or raises :class:`FieldError` with a message for
the person who typed the value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import phonenumbers

from orbitflow import config
from orbitflow.email_address import AddressError, checked_address

DEFAULT_PHONE_REGION = config.DEFAULT_PHONE_REGION
MAX_VALUE = Decimal("999999999999.99")
MAX_TAGS = 20
MAX_TAG_LENGTH = 50
UTM_FIELDS = ("source", "medium", "campaign", "term", "content")
TRUE_WORDS = {"1", "true", "yes", "y", "on", "x"}
FALSE_WORDS = {"0", "false", "no", "n", "off", ""}


class FieldError(ValueError):
    """One field's value is not acceptable; ``str(error)`` is the message for the user,
    ``field`` the name of the field within a group of fields (such as ``utm_source`` in
    ``utm``), when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def clean_text(raw: object, max_length: int, *, required: bool = False, label: str = "This field") -> str | None:
    value = "" if raw is None else str(raw).strip()
    if not value:
        if required:
            raise FieldError(f"{label} is required.")
        return None
    if len(value) > max_length:
        raise FieldError(f"Use at most {max_length} characters.")
    return value


def normalise_email(raw: object) -> str | None:
    """Validated, lower-cased address (compared case-insensitively for duplicates)."""
    value = "" if raw is None else str(raw).strip()
    if not value:
        return None
    return _normalised_email(value)


# A lead captured from a form is checked twice, when the form is read and when the lead
# is stored; the second check of the same text is a lookup.
@functools.lru_cache(maxsize=4096)
def _normalised_email(value: str) -> str:
    try:
        normalised = checked_address(value)
    except AddressError as error:
        raise FieldError(str(error)) from None
    assert normalised is not None
    return normalised.lower()


def valid_region(region: str | None) -> str | None:
    """An ISO 3166 two-letter region phonenumbers knows, upper-cased, or None."""
    if not region:
        return None
    region = region.strip().upper()
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def normalise_phone(raw: object, region: str | None = None) -> str | None:
    """E.164 (``+14155550123``). Numbers without a country code are read in ``region``."""
    value = "" if raw is None else str(raw).strip()
    if not value:
        return None
    return _normalised_phone(value, valid_region(region) or DEFAULT_PHONE_REGION)


@functools.lru_cache(maxsize=4096)
def _normalised_phone(value: str, region: str) -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise FieldError("Enter a valid phone number, e.g. +44 20 7946 0958.") from None
    if not phonenumbers.is_valid_number(number):
        raise FieldError(
            f"{value} is not a valid phone number for {region}; add the country code, e.g. +44 20 7946 0958."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str | None) -> str:
    """The international display form of a stored number."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalise_value(raw: object) -> Decimal | None:
    """A money amount with two decimals; accepts ``1,234.50`` and ``1234.5``."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise FieldError("Enter an amount such as 1500 or 1500.50.")
    if isinstance(raw, int | Decimal):
        amount = Decimal(raw)
    elif isinstance(raw, float):
        amount = Decimal(str(raw))
    else:
        text = re.sub(r"[\s,]", "", str(raw))
        if not text:
            return None
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise FieldError("Enter an amount such as 1500 or 1500.50.") from None
    if not amount.is_finite():
        raise FieldError("Enter an amount such as 1500 or 1500.50.")
    if amount < 0:
        raise FieldError("The value cannot be negative.")
    if amount > MAX_VALUE + 1:  # before rounding: 1e100 has no two-decimal form
        raise FieldError("The value is too large.")
    amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if amount > MAX_VALUE:
        raise FieldError("The value is too large.")
    return amount


def normalise_tags(raw: object) -> list[str]:
    """Lower-case, trimmed, unique tags from a list or a comma-separated string."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        items: Iterable[object] = raw.split(",")
    elif isinstance(raw, list | tuple | set):
        items = raw
    else:
        raise FieldError("Tags must be a list of words or a comma-separated text.")
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise FieldError("Each tag must be text.")
        tag = " ".join(item.split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise FieldError(f"A tag may have at most {MAX_TAG_LENGTH} characters.")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise FieldError(f"Use at most {MAX_TAGS} tags.")
    return tags


def normalise_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if raw is None:
        return False
    word = str(raw).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise FieldError("Use yes or no.")


def normalise_utm(raw: Mapping[str, object] | None) -> dict[str, str | None]:
    """``{"source": ..., "campaign": ...}`` (``utm_`` prefixes accepted) -> column values."""
    if not raw:
        return {}
    if not isinstance(raw, Mapping):
        raise FieldError('utm must be an object such as {"source": "facebook"}.')
    values: dict[str, str | None] = {}
    for key, value in raw.items():
        name = str(key).lower().removeprefix("utm_")
        if name not in UTM_FIELDS:
            continue
        try:
            values[f"utm_{name}"] = clean_text(value, 200)
        except FieldError as error:
            raise FieldError(str(error), field=f"utm_{name}") from None
    return values
