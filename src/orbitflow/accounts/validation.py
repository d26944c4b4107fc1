"""Rules for the fields of a user account, with messages for the person who typed them."""

from __future__ import annotations

import re

from orbitflow.email_address import AddressError, checked_address

USERNAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
NAME_MAX = 200


class FieldError(ValueError):
    """A value a person typed is not acceptable; the message says why."""


def normalise_username(raw: str | None) -> str:
    # Lowercase on every backend: MariaDB compares case-insensitively, SQLite does not.
    username = (raw or "").strip().lower()
    if not username:
        raise FieldError("Enter a username.")
    if not USERNAME_RE.match(username):
        raise FieldError(
            "Use up to 64 letters, digits, dots, dashes and underscores, starting and ending with a letter or digit."
        )
    return username


def normalise_email(raw: str | None) -> str | None:
    """An empty address is None; anything else must be a valid address."""
    try:
        return checked_address(raw)
    except AddressError as error:
        raise FieldError(str(error)) from None


def normalise_name(raw: str | None) -> str:
    name = " ".join((raw or "").split())
    if len(name) > NAME_MAX:
        raise FieldError(f"Use at most {NAME_MAX} characters.")
    return name
