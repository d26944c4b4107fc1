"""Request-level rules of the leads views: who is acting, who may assign to whom."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request

from orbitflow.web.errors import APIError
from orbitflow.web.inputs import NO_ROW, parse_id

ASSIGN_MESSAGE = "Assigning leads to other people needs the leads.assign permission."


def actor_id(request: Request) -> int | None:
    """The acting user's id (None for an API key nobody owns)."""
    return request.identity.user_id or None


def phone_region(request: Request) -> str:
    """Where numbers without a country code are read: the company's country (else the
    installation's ``orbitflow.default_phone_region``)."""
    return request.company_locale.phone_region


def _as_owner(value: Any) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    owner_id = parse_id(value)
    return NO_ROW if owner_id is None else owner_id  # let validation report it


def owner_change_problem(request: Request, lead, new_owner: Any) -> str | None:
    """Without ``leads.assign`` a person may take a lead or leave its owner as it is."""
    if request.has_permission("leads.assign"):
        return None
    wanted = _as_owner(new_owner)
    current = lead.owner_id if lead is not None else None
    if wanted in (current, actor_id(request)):
        return None
    if lead is None and wanted is None:
        return None
    return ASSIGN_MESSAGE


def check_owner_change(request: Request, lead, new_owner: Any) -> None:
    problem = owner_change_problem(request, lead, new_owner)
    if problem:
        raise APIError(403, problem, {"owner_id": problem})
