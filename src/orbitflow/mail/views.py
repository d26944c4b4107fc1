"""E-mail choices: each user's own opt-out (Profile) and who hears of unassigned new
leads (Settings → Notifications, owners and admins)."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPForbidden, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import select

from orbitflow.accounts.identity import current_user
from orbitflow.accounts.models import User
from orbitflow.audit.services import audit
from orbitflow.mail.models import NotificationSettings
from orbitflow.mail.notifications import settings_of
from orbitflow.web.inputs import parse_id
from orbitflow.web.layout import flash

TEMPLATE = "orbitflow:mail/templates/notifications.jinja2"


def choice_of(session, user: User) -> NotificationSettings:
    row = session.get(NotificationSettings, user.id)
    if row is None:
        row = NotificationSettings(
            company_id=user.company_id, user_id=user.id, lead_emails=True, unassigned_leads=False
        )
        session.add(row)
    return row


def lead_emails_on(session, user: User) -> bool:
    row = session.get(NotificationSettings, user.id)
    return row is None or row.lead_emails


def _lead_emails_of_request(request: Request) -> bool:
    user = current_user(request)
    return user is not None and lead_emails_on(request.dbsession, user)


@view_config(route_name="profile_notifications", request_method="POST", permission="profile.edit")
def profile_notifications(request: Request):
    user = current_user(request)
    if user is None:  # an API key has no profile
        raise HTTPForbidden("Sign in to use your profile.")
    wanted = request.POST.get("lead_emails") == "on"
    row = choice_of(request.dbsession, user)
    if row.lead_emails != wanted:
        audit(request, "user.notifications", user, changes={"lead_emails": {"from": row.lead_emails, "to": wanted}})
        row.lead_emails = wanted
    flash(request, "E-mail notifications on." if wanted else "E-mail notifications off: you get no e-mail about leads.")
    return HTTPSeeOther(request.route_url("profile"))


def _company_users(request: Request) -> list[User]:
    return list(
        request.dbsession.scalars(select(User).where(User.is_active.is_(True)).order_by(User.name, User.username))
    )


@view_config(route_name="notifications", request_method="GET", renderer=TEMPLATE, permission="users.manage")
def notifications_page(request: Request):
    choices = settings_of(request.dbsession, request.identity.company_id)
    users = _company_users(request)
    chosen = {user_id for user_id, row in choices.items() if row.unassigned_leads}
    return {
        "users": users,
        "chosen": chosen,
        "opted_out": {user_id for user_id, row in choices.items() if not row.lead_emails},
    }


@view_config(route_name="notifications", request_method="POST", permission="users.manage")
def notifications_save(request: Request):
    users = {user.id: user for user in _company_users(request)}
    wanted = {user_id for user_id in map(parse_id, request.POST.getall("user_id")) if user_id in users}
    before, after = [], []
    for user in users.values():
        row = request.dbsession.get(NotificationSettings, user.id)
        current = bool(row and row.unassigned_leads)
        if current:
            before.append(user.username)
        if user.id in wanted:
            after.append(user.username)
        if current != (user.id in wanted):
            choice_of(request.dbsession, user).unassigned_leads = user.id in wanted
    if sorted(before) != sorted(after):
        audit(
            request,
            "company.notifications",
            target_type="company",
            target_id=request.identity.company_id,
            changes={"unassigned_leads": {"from": sorted(before), "to": sorted(after)}},
        )
    flash(request, "Saved: " + (", ".join(sorted(after)) if after else "the owners") + " hear of unassigned new leads.")
    return HTTPSeeOther(request.route_url("notifications"))


def includeme(config) -> None:
    # The Profile page shows the choice without its view knowing about e-mail.
    config.add_request_method(_lead_emails_of_request, "lead_emails_on", reify=True)
    config.add_route("profile_notifications", "/settings/profile/notifications")
    config.add_route("notifications", "/settings/notifications")
    config.scan(__name__)
