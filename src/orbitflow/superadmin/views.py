"""Super admin pages."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config
from sqlalchemy import func, select

from orbitflow.accounts.models import User
from orbitflow.audit.services import audit
from orbitflow.db import unscoped
from orbitflow.tenants.models import Company


@view_config(
    route_name="admin_companies",
    renderer="orbitflow:superadmin/templates/companies.jinja2",
    permission="platform.admin",
)
def companies(request: Request):
    session = request.dbsession
    with unscoped(session):
        user_counts = dict(session.execute(select(User.company_id, func.count()).group_by(User.company_id)).all())
    rows = session.scalars(select(Company).order_by(Company.name)).all()
    return {"companies": rows, "user_counts": user_counts}


@view_config(route_name="impersonation_stop", request_method="POST", permission=NO_PERMISSION_REQUIRED)
def impersonation_stop(request: Request):
    from orbitflow.security import remember

    identity = request.identity
    if identity is None or not identity.is_impersonating:
        return HTTPSeeOther(request.route_url("home"))
    session = request.dbsession
    with unscoped(session):
        admin = session.get(User, identity.impersonator_id)
        audit(
            request,
            "impersonation.stop",
            target_type="user",
            target_id=identity.user_id,
            company_id=identity.company_id,
        )
    return HTTPSeeOther(request.route_url("admin_companies"), headers=remember(request, admin))


def includeme(config) -> None:
    config.add_route("admin_companies", "/admin/companies")
    config.add_route("impersonation_stop", "/admin/impersonation/stop")
    config.scan(__name__)
