"""``GET /api/v1/audit``: the audit log as JSON, company-scoped (everything for super admins)."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.api.helpers import iso, paginate, paging_parameters
from orbitflow.api.openapi import api_operation, api_schema, list_of
from orbitflow.audit.models import AuditEntry
from orbitflow.audit.queries import audit_query, parse_filters
from orbitflow.db import unscoped
from orbitflow.web.errors import APIError

api_schema(
    "AuditEntry",
    {
        "type": "object",
        "required": ["id", "action", "actor_name", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "company_id": {"type": "integer", "nullable": True},
            "actor_id": {"type": "integer", "nullable": True},
            "actor_name": {"type": "string"},
            "impersonator_id": {"type": "integer", "nullable": True, "description": "Super admin acting as the actor"},
            "action": {"type": "string", "example": "user.create"},
            "target_type": {"type": "string", "nullable": True},
            "target_id": {"type": "string", "nullable": True},
            "changes": {
                "type": "object",
                "nullable": True,
                "description": 'Changed fields as {"field": {"from": old, "to": new}}, or details of the event',
                "additionalProperties": True,
            },
            "ip": {"type": "string", "nullable": True},
            "user_agent": {"type": "string", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
)

_FILTER_PARAMETERS = [
    {"name": "actor", "in": "query", "schema": {"type": "string"}, "description": "Part of the actor's username"},
    {"name": "actor_id", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {
        "name": "action",
        "in": "query",
        "schema": {"type": "string"},
        "description": "An action (user.create), or every action of a kind (user.*)",
    },
    {"name": "target_type", "in": "query", "schema": {"type": "string"}},
    {"name": "target_id", "in": "query", "schema": {"type": "string"}},
    {"name": "since", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "From this day"},
    {"name": "until", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "To this day"},
    {
        "name": "company_id",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1},
        "description": "Super admins only: one company's entries",
    },
    *paging_parameters(),
]


def audit_entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "company_id": entry.company_id,
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "impersonator_id": entry.impersonator_id,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "changes": entry.changes,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "created_at": iso(entry.created_at),
    }


@api_operation(
    "api_audit",
    "/api/v1/audit",
    "get",
    summary="List audit entries, newest first",
    description="Owners and admins read their company's entries; super admins read every company's.",
    tags=["audit"],
    parameters=_FILTER_PARAMETERS,
    responses={
        "200": {"description": "A page of entries", "content": {"application/json": {"schema": list_of("AuditEntry")}}}
    },
)
@view_config(route_name="api_audit", request_method="GET", renderer="json", permission="audit.view")
def list_audit(request: Request):
    is_platform_admin = bool(request.has_permission("platform.admin"))
    filters, errors = parse_filters(request.GET, allow_company=is_platform_admin)
    if errors:
        raise APIError(400, "Some filters are not valid.", errors)
    scope = None if is_platform_admin else request.identity.company_id
    session = request.dbsession
    with unscoped(session):
        page = paginate(session, audit_query(filters, scope), request)
    return page.as_json(audit_entry_json)


def includeme(config) -> None:
    config.add_route("api_audit", "/api/v1/audit")
    config.scan(__name__)
