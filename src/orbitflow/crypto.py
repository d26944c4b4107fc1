"""Values encrypted at rest (second-factor secrets, access tokens of other services).

``ENCRYPTION_KEY`` holds one or more Fernet keys, comma-separated: the first encrypts, every
one decrypts (``cryptography``'s MultiFernet), so a key is rotated by putting a new one in
front and keeping the old ones until nothing encrypted with them is left. Without
``ENCRYPTION_KEY`` one key is derived from ``AUTH_SECRET`` (HKDF-SHA256), so a fresh
installation encrypts without another setting; changing ``AUTH_SECRET`` then makes the
stored values unreadable, which is why production sets its own key.

Request code reaches the application's :class:`Encryptor` with :func:`encryptor`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pyramid.registry import Registry

from orbitflow.shared import provide, shared

# Fixed: changing it changes the derived key, and every value encrypted with it is lost.
DERIVED_KEY_INFO = b"orbitflow encryption key v1"


class BadEncryptionKey(ValueError):
    """``ENCRYPTION_KEY`` is malformed; the message names the bad key by position only."""


class Undecryptable(Exception):
    """A stored value was encrypted with a key that ENCRYPTION_KEY no longer lists (or it
    was altered)."""


def derive_key(auth_secret: str) -> str:
    """The Fernet key used when ENCRYPTION_KEY is unset: HKDF-SHA256 of AUTH_SECRET."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=DERIVED_KEY_INFO).derive(auth_secret.encode())
    return base64.urlsafe_b64encode(raw).decode("ascii")


def parse_keys(value: str | None, auth_secret: str) -> tuple[str, ...]:
    """The keys of an ``ENCRYPTION_KEY`` value (first encrypts), or the derived one when
    ``value`` is empty. Raises :class:`BadEncryptionKey` naming the position of a bad key."""
    if value is None or not value.strip():
        return (derive_key(auth_secret),)
    keys = tuple(part.strip() for part in value.split(","))
    for position, key in enumerate(keys, start=1):
        if not key:
            raise BadEncryptionKey(f"ENCRYPTION_KEY has an empty key at position {position} (keys are comma-separated)")
        try:
            Fernet(key)
        except (ValueError, binascii.Error):
            raise BadEncryptionKey(
                f"ENCRYPTION_KEY key {position} is not a Fernet key (32 bytes, url-safe base64; generate one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
            ) from None
    return keys


class Encryptor:
    """Encrypts text with the first key and decrypts with any of them."""

    def __init__(self, keys: Sequence[str]):
        if not keys:
            raise ValueError("at least one key is needed")
        self._primary = Fernet(keys[0])
        self._all = MultiFernet([Fernet(key) for key in keys])

    def __repr__(self) -> str:  # never the keys
        return "<Encryptor>"

    def encrypt(self, plaintext: str) -> str:
        return self._primary.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._all.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise Undecryptable(
                "a stored value cannot be decrypted: ENCRYPTION_KEY no longer lists the key it was encrypted with"
            ) from None

    def is_current(self, token: str) -> bool:
        """Was ``token`` encrypted with the first key (no rotation needed)?"""
        try:
            self._primary.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def rotate(self, token: str) -> str:
        """``token`` encrypted again with the first key."""
        try:
            return self._all.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise Undecryptable("a stored value cannot be decrypted with any key of ENCRYPTION_KEY") from None


def encryptor(registry: Registry) -> Encryptor:
    """The application's encryptor (made from the settings at start-up)."""
    return shared(registry, Encryptor)


def includeme(config) -> None:
    from orbitflow.config import get_settings

    provide(config.registry, Encryptor(get_settings(config.registry).encryption_keys))
