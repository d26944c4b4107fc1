"""Impersonation: a super admin sees the product as one company user sees it, read-only.

Starting ends the super admin's session and starts one of the user with the super admin as
impersonator; stopping ends that one and starts the super admin's again. Both keep the
original sign-in time, so impersonating never extends the absolute time-out. The identity
loader checks the impersonator is still an active super admin, the layout shows a banner, and
``orbitflow.accounts.guards`` refuses every unsafe request but leaving. Start and stop
are audited in the impersonated user's company, with the super admin as the actor.
"""

from __future__ import annotations

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from orbitflow.accounts.models import User
from orbitflow.accounts.sessions import current_session, end_session, start_session
from orbitflow.audit.services import record
from orbitflow.db import unscoped
from orbitflow.security import SUPER_ADMIN
from orbitflow.superadmin.users import get_company_user
from orbitflow.web.layout import flash


def refusal(target: User) -> str | None:
    """Why ``target`` cannot be impersonated, or None."""
    if target.role == SUPER_ADMIN or target.company.is_platform:
        return "Super admins cannot be impersonated."
    if not target.is_active:
        return f"{target.username} is deactivated."
    if not target.company.is_active:
        return f"{target.company.name} is deactivated; reactivate it to see what its users see."
    return None


def _record(request: Request, action: str, admin_id: int, admin_name: str, target: User) -> None:
    record(
        request.dbsession,
        action,
        company_id=target.company_id,
        actor_id=admin_id,
        actor_name=admin_name,
        target_type="user",
        target_id=target.id,
        changes={"user": target.username},
        ip=request.client_ip,
        user_agent=request.user_agent,
    )


@view_config(route_name="admin_impersonate", request_method="POST", permission="platform.admin")
def impersonation_start(request: Request):
    company, target = get_company_user(request)
    problem = refusal(target)
    if problem:
        flash(request, problem, "error")
        return HTTPSeeOther(request.route_url("admin_company", id=company.id))
    identity = request.identity
    own = current_session(request)
    with unscoped(request.dbsession):
        _record(request, "impersonation.start", identity.user_id, identity.username, target)
        end_session(request.dbsession, own, "impersonation_start")
        headers = start_session(request, target, impersonator_id=identity.user_id, created_at=own.created_at)
    flash(request, f"You now see OrbitFlow as {target.username} of {company.name}. Changes are disabled.", "info")
    return HTTPSeeOther(request.route_url("home"), headers=headers)


@view_config(route_name="impersonation_stop", request_method="POST", permission=NO_PERMISSION_REQUIRED)
def impersonation_stop(request: Request):
    identity = request.identity
    if identity is None or not identity.is_impersonating:
        return HTTPSeeOther(request.route_url("home" if identity else "login"))
    session = request.dbsession
    borrowed = current_session(request)
    with unscoped(session):
        admin = session.get(User, identity.impersonator_id)
        target = session.get(User, identity.user_id)
        _record(request, "impersonation.stop", admin.id, admin.username, target)
        end_session(session, borrowed, "impersonation_stop")
        headers = start_session(request, admin, created_at=borrowed.created_at)
    flash(request, f"You are back as {admin.username}.", "info")
    return HTTPSeeOther(request.route_url("admin_company", id=target.company_id), headers=headers)


def includeme(config) -> None:
    config.add_route("admin_impersonate", r"/admin/companies/{id:\d+}/users/{user_id:\d+}/impersonate")
    config.add_route("impersonation_stop", "/admin/impersonation/stop")
    config.scan(__name__)
