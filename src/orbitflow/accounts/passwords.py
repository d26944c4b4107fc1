"""Password hashing (argon2id) and the password rules.

The hashing cost is one per process, set from the settings when the app (or a console
script) starts: :func:`use_password_hashing`. Until then the library's defaults apply.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from orbitflow.config import LIBRARY_PASSWORD_HASHING, PasswordHashing

MIN_LENGTH = 10
MAX_LENGTH = 256


class _Hashing:
    def __init__(self, cost: PasswordHashing) -> None:
        self.cost = cost
        self.hasher = PasswordHasher(
            time_cost=cost.time_cost, memory_cost=cost.memory_kib, parallelism=cost.parallelism
        )
        # Verified against when the user does not exist, so both paths cost the same time.
        self.dummy_hash = self.hasher.hash("orbitflow-timing-equaliser")


_current = _Hashing(LIBRARY_PASSWORD_HASHING)


def use_password_hashing(cost: PasswordHashing) -> None:
    """Hash new passwords at ``cost`` from now on; hashes made at another cost still verify
    and are rehashed at the next sign-in."""
    global _current
    if _current.cost != cost:
        _current = _Hashing(cost)


def hash_password(password: str) -> str:
    return _current.hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    hashing = _current
    try:
        return hashing.hasher.verify(password_hash or hashing.dummy_hash, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _current.hasher.check_needs_rehash(password_hash)


def password_problems(password: str, *, username: str, company_slug: str) -> list[str]:
    """What is wrong with a new password, in words for the user (empty when it is fine)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if username and username.lower() in lowered:
        problems.append("The password must not contain the username.")
    if company_slug and company_slug.lower() in lowered:
        problems.append("The password must not contain the subscription ID.")
    if password.strip() == "" or len(set(password)) < 4:
        problems.append("Use a less repetitive password.")
    return problems
