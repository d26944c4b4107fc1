"""Reading the super admin forms: text fields, optional whole numbers, checkboxes."""

from __future__ import annotations

from collections.abc import Mapping

from orbitflow.tenants.locale import LOCALE_FIELDS
from orbitflow.tenants.services import MAX_QUOTA
from orbitflow.web.inputs import NumberError, bounded_int

COMPANY_FORM_FIELDS = ("name", "subscription_id", "plan", "max_users", "max_quizzes", *LOCALE_FIELDS)
USER_FORM_FIELDS = ("username", "name", "email", "role", "password", "confirm_password")


def text_fields(post: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {name: (post.get(name) or "").strip() for name in names}


def optional_quota(raw: str, errors: dict[str, str], name: str) -> int | None:
    """Empty means "the plan's default"; anything else must be a whole number in range."""
    if not raw:
        return None
    try:
        return bounded_int(raw, minimum=0, maximum=MAX_QUOTA)
    except NumberError as error:
        errors[name] = f"{error} Leave it empty for the plan's default."
        return None


def checkbox(post: Mapping[str, str], name: str) -> bool:
    return post.get(name) in ("on", "true", "1", "yes")
