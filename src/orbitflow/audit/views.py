"""The audit log viewer and its CSV export.

``/audit`` shows the signed-in user's company; ``/admin/audit`` shows every company to
super admins. Both only read: no route changes or deletes an entry.
"""

from __future__ import annotations

from datetime import date

from pyramid.httpexceptions import HTTPFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import event, func, select
from sqlalchemy.orm import sessionmaker

from orbitflow.audit.describe import change_rows, load_names, summary, target_label
from orbitflow.audit.export import MAX_EXPORT_ROWS, stream_csv
from orbitflow.audit.paging import paged
from orbitflow.audit.queries import (
    AuditFilters,
    audit_query,
    company_names,
    parse_filters,
    recent_actions,
    user_names,
)
from orbitflow.audit.services import audit, refuse_audit_changes
from orbitflow.db import unscoped
from orbitflow.shared import shared
from orbitflow.tenants.models import Company
from orbitflow.web.layout import flash

TEMPLATE = "orbitflow:audit/templates/audit.jinja2"


def _scope(request: Request, admin: bool) -> int | None:
    return None if admin else request.identity.company_id


def _listing(request: Request, admin: bool) -> dict:
    session = request.dbsession
    scope = _scope(request, admin)
    filters, errors = parse_filters(request.GET, allow_company=admin)
    with unscoped(session):
        if errors:
            request.response.status_int = 400
            entries, pager = [], None
        else:
            entries, pager = paged(session, audit_query(filters, scope), request, filters.as_params())
        companies = company_names(session, {e.company_id for e in entries if e.company_id}) if admin else {}
        impersonators = user_names(session, {e.impersonator_id for e in entries if e.impersonator_id})
        company_choices = (
            session.execute(select(Company.id, Company.name, Company.subscription_id).order_by(Company.name)).all()
            if admin
            else []
        )
        actions = recent_actions(session, scope)
        names = load_names(session, entries)
    current = filters.as_params() if not errors else {}

    def filter_url(**extra) -> str:
        """This page narrowed further (clicking an actor, a target or a company)."""
        return request.current_route_url(_query={**current, **{key: str(value) for key, value in extra.items()}})

    return {
        "filter_url": filter_url,
        "admin": admin,
        "entries": entries,
        "pager": pager,
        "filters": filters,
        "form": {key: request.GET.get(key, "") for key in AuditFilters.__dataclass_fields__},
        "errors": errors,
        "companies": companies,
        "company_choices": company_choices,
        "impersonators": impersonators,
        "actions": actions,
        "action_groups": sorted({action.split(".")[0] for action in actions if "." in action}),
        "readable_changes": lambda entry: change_rows(entry, names),
        "summary": lambda entry: summary(entry, names),
        "target_label": lambda entry: target_label(entry, names),
        "export_url": request.route_url(
            "admin_audit_export" if admin else "audit_export", _query=filters.as_params() if not errors else {}
        ),
    }


def _export(request: Request, admin: bool) -> Response:
    session = request.dbsession
    filters, errors = parse_filters(request.GET, allow_company=admin)
    back = "admin_audit" if admin else "audit"
    if errors:
        flash(request, "Fix the filters before exporting: " + "; ".join(errors.values()), "error")
        return HTTPSeeOther(request.route_url(back))
    query = audit_query(filters, _scope(request, admin))
    with unscoped(session):
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if total > MAX_EXPORT_ROWS:
        flash(
            request,
            f"{total} entries match; an export holds at most {MAX_EXPORT_ROWS}. Narrow the dates or filters.",
            "error",
        )
        return HTTPSeeOther(request.route_url(back, _query=filters.as_params()))
    # Who took a copy of the log, and of what, is itself worth recording.
    audit(request, "audit.export", target_type="audit_log", changes={"filters": filters.as_params(), "rows": total})
    scope_name = (
        "all" if admin and filters.company_id is None else str(filters.company_id or request.identity.company_id)
    )
    response = Response(content_type="text/csv", charset="utf-8")
    response.content_disposition = f'attachment; filename="audit-{scope_name}-{date.today().isoformat()}.csv"'
    response.app_iter = stream_csv(shared(request.registry, sessionmaker), query)
    return response


@view_config(route_name="audit", request_method="GET", renderer=TEMPLATE, permission="audit.view")
def audit_log(request: Request):
    if request.has_permission("platform.admin"):
        # Super admins read every company's entries on the platform-wide page.
        return HTTPFound(request.route_url("admin_audit", _query=request.GET))
    return _listing(request, admin=False)


@view_config(route_name="audit_export", request_method="GET", permission="audit.view")
def audit_export(request: Request):
    return _export(request, admin=request.has_permission("platform.admin"))


@view_config(route_name="admin_audit", request_method="GET", renderer=TEMPLATE, permission="platform.admin")
def admin_audit_log(request: Request):
    return _listing(request, admin=True)


@view_config(route_name="admin_audit_export", request_method="GET", permission="platform.admin")
def admin_audit_export(request: Request):
    return _export(request, admin=True)


def includeme(config) -> None:
    config.add_route("audit", "/audit")
    config.add_route("audit_export", "/audit/export.csv")
    config.add_route("admin_audit", "/admin/audit")
    config.add_route("admin_audit_export", "/admin/audit/export.csv")
    event.listen(shared(config.registry, sessionmaker), "before_flush", refuse_audit_changes)
    config.scan(__name__)
