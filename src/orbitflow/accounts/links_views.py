"""Accounts by e-mail: "forgot password" and invitations.

Forgot password answers the same whether or not an account matches (so it tells nobody
which accounts exist), is rate limited per address and per account, and is audited; the
e-mailed link works once, for 30 minutes, and setting the password ends every session of
the account. Owners and admins invite a user by e-mail instead of typing a password for
them; the invitation's link (valid 3 days) lets the user choose their own.
"""

from __future__ import annotations

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config
from sqlalchemy import func, or_, select

from orbitflow.accounts.links import issue, valid_link, void_links
from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import hash_password, password_problems
from orbitflow.accounts.sessions import end_sessions_of
from orbitflow.accounts.users import AccountError, assignable_roles, create_user, generate_password
from orbitflow.audit.services import audit, record
from orbitflow.db import unscoped
from orbitflow.events import new_event_id
from orbitflow.mail.notifications import send_to_user
from orbitflow.models.meta import utcnow
from orbitflow.ratelimit import parse_limit_setting, rate_limiter
from orbitflow.tenants.models import Company
from orbitflow.web.layout import flash

FORGOT_TEMPLATE = "orbitflow:accounts/templates/password_forgot.jinja2"
RESET_TEMPLATE = "orbitflow:accounts/templates/password_reset.jinja2"
INVITE_TEMPLATE = "orbitflow:accounts/templates/user_invite.jinja2"
PER_ADDRESS = parse_limit_setting("password reset", None, "10/hour")
PER_ACCOUNT = parse_limit_setting("password reset", None, "3/hour")


def find_account(session, subscription_id: str, login: str) -> tuple[Company | None, User | None]:
    """The active company and its active user whose username or e-mail is ``login``."""
    with unscoped(session):
        company = session.scalar(select(Company).where(Company.subscription_id == subscription_id))
        if company is None or not company.is_active or not login:
            return company, None
        user = session.scalars(
            select(User)
            .where(
                User.company_id == company.id,
                User.is_active.is_(True),
                or_(User.username == login, func.lower(User.email) == login),
            )
            .order_by(User.id)
        ).first()
        return company, user


def _forgot_context(form: dict, *, sent: bool = False, error: str | None = None) -> dict:
    return {"form": form, "sent": sent, "error": error}


@view_config(
    route_name="password_forgot", request_method="GET", renderer=FORGOT_TEMPLATE, permission=NO_PERMISSION_REQUIRED
)
def forgot_form(request: Request):
    return _forgot_context({"subscription_id": request.params.get("subscription_id", ""), "login": ""})


@view_config(
    route_name="password_forgot", request_method="POST", renderer=FORGOT_TEMPLATE, permission=NO_PERMISSION_REQUIRED
)
def forgot_submit(request: Request):
    form = {
        "subscription_id": str(request.POST.get("subscription_id", "")).strip().lower()[:64],
        "login": str(request.POST.get("login", "")).strip().lower()[:254],
    }
    if not form["subscription_id"] or not form["login"]:
        request.response.status_int = 400
        return _forgot_context(form, error="Enter the subscription ID and your username or e-mail address.")
    limiter = rate_limiter(request.registry)
    verdict = limiter.hit(PER_ADDRESS, "password-reset-address", limiter.key(request.client_ip or ""))
    if verdict.allowed:
        verdict = limiter.hit(
            PER_ACCOUNT, "password-reset-account", limiter.key(form["subscription_id"], form["login"])
        )
    if not verdict.allowed:
        request.response.status_int = 429
        request.response.headers["Retry-After"] = str(verdict.retry_after)
        return _forgot_context(form, error="Too many requests. Please wait a while and try again.")
    session = request.dbsession
    company, user = find_account(session, form["subscription_id"], form["login"])
    if user is not None and user.email:
        with unscoped(session):  # a signed-out visitor's session names no company
            token = issue(session, user, "reset")
            send_to_user(
                session,
                user,
                template="password_reset",
                event_id=new_event_id(),
                context={"company": company.name, "link_path": f"/password/reset/{token}", "minutes": 30},
            )
            session.flush()
    record(
        session,
        "auth.password_reset_request",
        company_id=company.id if company is not None else None,
        actor_id=user.id if user is not None else None,
        actor_name=form["login"][:200],
        target_type="user" if user is not None else None,
        target_id=user.id if user is not None else None,
        changes={"sent": bool(user is not None and user.email)},
        ip=request.client_ip,
        user_agent=request.user_agent,
    )
    # The same answer whether or not an account matched.
    return _forgot_context({"subscription_id": form["subscription_id"], "login": ""}, sent=True)


def _reset_context(request: Request, *, user: User | None, purpose: str | None, errors: dict | None = None) -> dict:
    request.response.cache_control = "no-store"
    return {"account": user, "purpose": purpose, "errors": errors or {}}


@view_config(
    route_name="password_reset", request_method="GET", renderer=RESET_TEMPLATE, permission=NO_PERMISSION_REQUIRED
)
def reset_form(request: Request):
    found = valid_link(request.dbsession, request.matchdict["token"])
    if found is None:
        request.response.status_int = 400
        return _reset_context(request, user=None, purpose=None)
    link, user = found
    return _reset_context(request, user=user, purpose=link.purpose)


@view_config(
    route_name="password_reset", request_method="POST", renderer=RESET_TEMPLATE, permission=NO_PERMISSION_REQUIRED
)
def reset_submit(request: Request):
    session = request.dbsession
    found = valid_link(session, request.matchdict["token"])
    if found is None:
        request.response.status_int = 400
        return _reset_context(request, user=None, purpose=None)
    link, user = found
    new = request.POST.get("new_password", "")
    errors: dict[str, str] = {}
    problems = password_problems(new, username=user.username, company_slug=user.company.subscription_id)
    if problems:
        errors["new_password"] = " ".join(problems)
    elif request.POST.get("confirm_password", "") != new:
        errors["confirm_password"] = "The two passwords differ."
    if errors:
        request.response.status_int = 400
        return _reset_context(request, user=user, purpose=link.purpose, errors=errors)
    with unscoped(session):
        user.password_hash = hash_password(new)
        user.must_change_password = False
        # Every session of the account ends: whoever knew the old password is out.
        end_sessions_of(session, user, "password_reset")
        link.used_at = utcnow()
        void_links(session, user)
        record(
            session,
            "auth.password_reset" if link.purpose == "reset" else "user.invite_accept",
            company_id=user.company_id,
            actor_id=user.id,
            actor_name=user.username,
            target_type="user",
            target_id=user.id,
            ip=request.client_ip,
            user_agent=request.user_agent,
        )
    flash(request, "Your password is set. Sign in with it.")
    return HTTPSeeOther(request.route_url("login", _query={"subscription_id": user.company.subscription_id}))


def _invite_context(request: Request, form: dict, errors: dict | None = None, error: str | None = None) -> dict:
    company = request.dbsession.get(Company, request.identity.company_id)
    return {"form": form, "errors": errors or {}, "error": error, "roles": assignable_roles(request.identity, company)}


@view_config(route_name="user_invite", request_method="GET", renderer=INVITE_TEMPLATE, permission="users.manage")
def invite_form(request: Request):
    return _invite_context(request, {"username": "", "name": "", "email": "", "role": "AGENT"})


@view_config(route_name="user_invite", request_method="POST", renderer=INVITE_TEMPLATE, permission="users.manage")
def invite_submit(request: Request):
    post = request.POST
    form = {key: str(post.get(key, "")) for key in ("username", "name", "email", "role")}
    if not form["email"].strip():
        request.response.status_int = 400
        return _invite_context(request, form, {"email": "Enter the address the invitation goes to."})
    company = request.dbsession.get(Company, request.identity.company_id)
    try:
        # A random password nobody knows; the invited user chooses their own.
        user = create_user(
            request,
            company,
            username=form["username"],
            password=generate_password(form["username"] or "x", company.subscription_id),
            role=form["role"],
            name=form["name"],
            email=form["email"],
        )
    except AccountError as error:
        request.response.status_int = 409 if error.status == 409 else 400 if error.status == 422 else error.status
        return _invite_context(request, form, error.fields, error.message)
    token = issue(request.dbsession, user, "invite")
    inviter = request.dbsession.get(User, request.identity.user_id)
    send_to_user(
        request.dbsession,
        user,
        template="invitation",
        event_id=new_event_id(),
        context={
            "company": company.name,
            "subscription_id": company.subscription_id,
            "username": user.username,
            "inviter": inviter.display_name if inviter else "",
            "link_path": f"/password/reset/{token}",
            "days": 3,
        },
    )
    audit(request, "user.invite", user, changes={"email": user.email})
    flash(request, f"Invitation sent to {user.email}.")
    return HTTPSeeOther(request.route_url("users"))


def includeme(config) -> None:
    config.add_route("password_forgot", "/password/forgot")
    config.add_route("password_reset", "/password/reset/{token}")
    config.add_route("user_invite", "/settings/users/invite")
    config.scan(__name__)
