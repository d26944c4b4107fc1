"""Reading the super admin forms: text fields, optional whole numbers, checkboxes."""

from __future__ import annotations

from collections.abc import Mapping

from orbitflow.tenants.services import MAX_QUOTA

# Ids beyond a BIGINT name no row; asking the database would fail instead.
MAX_ID = 2**63 - 1

COMPANY_FORM_FIELDS = ("name", "subscription_id", "plan", "max_users", "max_quizzes")
USER_FORM_FIELDS = ("username", "name", "email", "role", "password", "confirm_password")


def text_fields(post: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {name: (post.get(name) or "").strip() for name in names}


def optional_quota(raw: str, errors: dict[str, str], name: str) -> int | None:
    """Empty means "the plan's default"; anything else must be a whole number in range."""
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        errors[name] = f"Enter a whole number from 0 to {MAX_QUOTA}, or leave empty for the plan's default."
        return None
    if not 0 <= value <= MAX_QUOTA:
        errors[name] = f"Use a number from 0 to {MAX_QUOTA}."
        return None
    return value


def checkbox(post: Mapping[str, str], name: str) -> bool:
    return post.get(name) in ("on", "true", "1", "yes")


def row_id(raw: str | None) -> int | None:
    """An id from the URL, or None when it cannot name a row."""
    try:
        value = int(raw or "")
    except ValueError:
        return None
    return value if 0 < value <= MAX_ID else None
