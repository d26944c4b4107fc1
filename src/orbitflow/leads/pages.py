"""Helpers the leads pages share: the viewer, finding a lead or 404, form values."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from pluggy import PluginManager
from pyramid.httpexceptions import HTTPBadRequest, HTTPNotFound
from pyramid.request import Request
from sqlalchemy import select

from orbitflow.accounts.models import User
from orbitflow.leads.models import Lead, LeadTag
from orbitflow.leads.normalize import format_phone
from orbitflow.leads.queries import LeadFilters, Viewer, company_users, get_visible_lead
from orbitflow.plugins import FilterChoice, LeadFact, collect
from orbitflow.shared import shared
from orbitflow.web.inputs import path_id

TEMPLATES = "orbitflow:leads/templates/"


def viewer(request: Request) -> Viewer:
    return Viewer.from_request(request)


def page_filters(request: Request, also: Collection[str] = ()) -> LeadFilters:
    """The page's lead filters (``also``: its other parameters). The pages are opened from
    links, so a parameter that is no filter (a click id a mail client or an ad tool appended,
    an old bookmark's, a disabled plugin's filter) is ignored and never carried into the
    page's links; a filter with a bad value is a 400 that names it, not a page that quietly
    shows (or exports) every lead. The API refuses both (``LeadFilters.errors``)."""
    filters = LeadFilters.from_request(request, also=also)
    bad = {key: message for key, message in filters.errors.items() if key not in filters.unknown}
    if bad:
        raise HTTPBadRequest(" ".join(f"{key}: {message}" for key, message in bad.items()))
    return filters


def lead_or_404(request: Request, key: str = "id") -> Lead:
    lead = get_visible_lead(request.dbsession, viewer(request), path_id(request, key))
    if lead is None:
        raise HTTPNotFound("No such lead.")
    return lead


def known_tags(request: Request, limit: int = 200) -> list[str]:
    return list(
        request.dbsession.scalars(
            select(LeadTag.tag)
            .distinct()
            .where(LeadTag.company_id == request.identity.company_id)
            .order_by(LeadTag.tag)
            .limit(limit)
        )
    )


def lead_facts(request: Request, leads: Iterable[Lead]) -> dict[int, list[LeadFact]]:
    """The plugins' facts about a page of leads (quiz score and outcome...), by lead id."""
    ids = [lead.id for lead in leads]
    if not ids:
        return {}
    facts: dict[int, list[LeadFact]] = {}
    pm = shared(request.registry, PluginManager)
    for fact in collect(pm, "lead_facts", session=request.dbsession, lead_ids=ids):
        facts.setdefault(fact.lead_id, []).append(fact)
    return facts


def fact_labels(facts: dict[int, list[LeadFact]]) -> list[str]:
    """The labels of ``facts`` in the order first seen: the lead list's extra columns."""
    return list(dict.fromkeys(fact.label for lead_facts in facts.values() for fact in lead_facts))


# The filters a plugin (or the core) may offer as a choice list.
CHOICE_FILTERS = ("quiz_id", "utm_source", "utm_campaign")


def filter_form(request: Request, filters: LeadFilters) -> dict[str, Any]:
    """What the board's and the list's filter forms add to their fields: the choice lists
    (``filter_choices``) and, as hidden inputs, the filters in use that have no field
    (``hidden_filters``)."""
    choices = filter_choices(request, filters)
    shown = {choice.param for choice in choices}
    hidden = {key: value for key, value in filters.hidden.items() if key not in shown}
    return {"filter_choices": choices, "hidden_filters": hidden}


def filter_choices(request: Request, filters: LeadFilters) -> list[FilterChoice]:
    """The choice lists of the board's and the list's filters that have choices; the value
    in use stays a choice even when no lead has it any more."""
    pm = shared(request.registry, PluginManager)
    current = filters.as_params()
    offered = []
    for choice in collect(pm, "lead_filter_choices", session=request.dbsession):
        if choice.param not in CHOICE_FILTERS:
            raise ValueError(f"lead_filter_choices offered {choice.param!r}; use one of {', '.join(CHOICE_FILTERS)}")
        value = current.get(choice.param)
        if value and value not in {key for key, _ in choice.choices}:
            choice = FilterChoice(choice.param, choice.label, (*choice.choices, (value, value)))
        if choice.choices:
            offered.append(choice)
    return offered


def owner_choices(request: Request, users: list[User], lead: Lead | None) -> list[User]:
    """Everyone active for people who may assign; otherwise oneself and the current owner."""
    if request.has_permission("leads.assign"):
        return [user for user in users if user.is_active or (lead is not None and user.id == lead.owner_id)]
    allowed = {request.identity.user_id, lead.owner_id if lead is not None else None}
    return [user for user in users if user.id in allowed]


def page_users(request: Request) -> tuple[list[User], dict[int, User]]:
    users = company_users(request.dbsession)
    return users, {user.id: user for user in users}


def lead_form(lead: Lead | None) -> dict[str, Any]:
    if lead is None:
        return {"source": "manual", "consent": False, "tags": ""}
    return {
        "name": lead.name,
        "email": lead.email or "",
        "phone": format_phone(lead.phone),
        "company_name": lead.company_name or "",
        "value": "" if lead.value is None else f"{lead.value:.2f}",
        "source": lead.source,
        "stage_id": lead.stage_id,
        "owner_id": lead.owner_id or "",
        "tags": ", ".join(lead.tags),
        "utm_source": lead.utm_source or "",
        "utm_medium": lead.utm_medium or "",
        "utm_campaign": lead.utm_campaign or "",
        "utm_term": lead.utm_term or "",
        "utm_content": lead.utm_content or "",
        "referrer": lead.referrer or "",
        "consent": lead.consent,
        "version": lead.version,
    }


FORM_FIELDS = (
    "name",
    "email",
    "phone",
    "company_name",
    "value",
    "source",
    "stage_id",
    "owner_id",
    "tags",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
)


def posted_lead_fields(request: Request) -> dict[str, Any]:
    """The lead fields of a submitted form (a missing checkbox means no consent)."""
    values: dict[str, Any] = {name: request.POST.get(name, "") for name in FORM_FIELDS if name in request.POST}
    values["consent"] = request.POST.get("consent") == "yes"
    return values


def safe_return(request: Request, target: str | None, fallback: str) -> str:
    """Only same-site paths, never another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return request.application_url + target
    return request.route_url(fallback)
