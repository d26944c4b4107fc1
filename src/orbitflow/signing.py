"""Signed values that survive a rotation of AUTH_SECRET.

Values are signed with AUTH_SECRET; while AUTH_SECRET_PREVIOUS is set, a value signed with
it is still accepted, so rotating the secret signs nobody out. Callers that keep a value
in the browser (the session cookie) re-sign it with the new secret when the old one was
used, and once every such cookie has been renewed the previous secret can be dropped.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from webob.cookies import SignedSerializer

from orbitflow.config import Settings


class RotatingSerializer:
    """webob's SignedSerializer over several secrets: the first signs, every one verifies."""

    def __init__(self, secrets: tuple[str, ...], salt: str, hashalg: str = "sha512", serializer: Any = None):
        if not secrets:
            raise ValueError("at least one secret is needed")
        self._signers = tuple(
            SignedSerializer(secret, salt, hashalg=hashalg, serializer=serializer) for secret in secrets
        )

    def dumps(self, value: Any) -> bytes:
        return self._signers[0].dumps(value)

    def loads_with_age(self, data: bytes) -> tuple[Any, bool]:
        """The value and whether it was signed with an older secret (to be re-signed)."""
        for index, signer in enumerate(self._signers):
            try:
                return signer.loads(data), index > 0
            except ValueError:
                continue
        raise ValueError("invalid signature")

    def loads(self, data: bytes) -> Any:
        return self.loads_with_age(data)[0]


@lru_cache(maxsize=16)
def _rotating(secrets: tuple[str, ...], salt: str, hashalg: str) -> RotatingSerializer:
    return RotatingSerializer(secrets, salt, hashalg)


def serializer_for(settings: Settings, salt: str, hashalg: str = "sha512") -> RotatingSerializer:
    """The serializer of ``salt``'s values: AUTH_SECRET signs, AUTH_SECRET_PREVIOUS verifies too."""
    return _rotating(settings.auth_secrets, salt, hashalg)
