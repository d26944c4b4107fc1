"""The audit log viewer: the company's entries for owners and admins."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import select

from orbitflow.audit.models import AuditEntry

PER_PAGE = 50


@view_config(route_name="audit", renderer="orbitflow:audit/templates/audit.jinja2", permission="audit.view")
def audit_log(request: Request):
    query = select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(PER_PAGE)
    if not request.has_permission("platform.admin"):
        query = query.where(AuditEntry.company_id == request.identity.company_id)
    return {"entries": request.dbsession.scalars(query).all()}


def includeme(config) -> None:
    config.add_route("audit", "/audit")
    config.scan(__name__)
