"""E-mail addresses people type: one rule and one message for every form and the API.

Users, leads, quiz visitors and the JSON API all check an address here, so a mistake gets
the same words wherever it is made, and the words say what to type, never the
validating library's own text.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254
MESSAGE = "Enter an e-mail address like name@example.com"


class AddressError(ValueError):
    """Not an e-mail address; ``str(error)`` says what to type instead."""


def _hint(value: str) -> str:
    """What is wrong with ``value``, in a few words, when it is one of the usual slips."""
    if any(character.isspace() for character in value):
        return "without spaces"
    at_signs = value.count("@")
    if at_signs == 0:
        return "this one has no @"
    if at_signs > 1:
        return "with one @"
    local, domain = value.split("@")
    if not local:
        return "with a name before the @"
    if "." not in domain.strip("."):
        return "with a domain after the @, such as example.com"
    return ""


def problem(value: str) -> str:
    """The message for an address that failed the check."""
    hint = _hint(value)
    return f"{MESSAGE} ({hint})." if hint else f"{MESSAGE}."


def checked_address(raw: object) -> str | None:
    """The address as the library normalises it (domain lower-cased), None when empty.

    Raises :class:`AddressError` for anything that is not an address."""
    value = "" if raw is None else str(raw).strip()
    if not value:
        return None
    if len(value) > MAX_LENGTH:
        raise AddressError(f"Use at most {MAX_LENGTH} characters for the e-mail address.")
    try:
        normalised = validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise AddressError(problem(value)) from None
    if len(normalised) > MAX_LENGTH:
        raise AddressError(f"Use at most {MAX_LENGTH} characters for the e-mail address.")
    return normalised


def is_address(value: str) -> bool:
    try:
        return checked_address(value) is not None
    except AddressError:
        return False
