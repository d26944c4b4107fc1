"""Users of any company, managed by super admins: create, reset password, (de)activate.

The rules (username and password rules, quota, last owner, nobody deactivates
themselves) and the audit entries are the accounts package's, shared with Settings →
Users and the API. What this module adds is the crossing of tenants: a super admin's
session belongs to the platform company, so each call runs inside ``unscoped()`` and
flushes there, while the bypass holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyramid.request import Request

from orbitflow.accounts import users
from orbitflow.accounts.models import User
from orbitflow.accounts.users import AccountError
from orbitflow.db import unscoped
from orbitflow.security import COMPANY_ROLES, SUPER_ADMIN
from orbitflow.tenants.models import Company

# Refusals carry ``status`` (for the API), ``message``, ``fields`` and ``code``.
UserError = AccountError


@dataclass(frozen=True)
class NewUser:
    username: str
    password: str
    role: str
    name: str = ""
    email: str = ""
    must_change_password: bool = True


def roles_for(company: Company) -> tuple[str, ...]:
    """The platform company holds super admins only; other companies every other role."""
    return (SUPER_ADMIN,) if company.is_platform else COMPANY_ROLES


def create_company_user(request: Request, company: Company, data: NewUser) -> User:
    """Create a user in ``company``; audited there as ``user.create``."""
    session = request.dbsession
    with unscoped(session):
        user = users.create_user(
            request,
            company,
            username=data.username,
            password=data.password,
            role=data.role,
            name=data.name,
            email=data.email,
            must_change_password=data.must_change_password,
        )
        session.flush()
    return user


def reset_user_password(request: Request, user: User, new_password: str | None) -> str:
    """Give a temporary password (``new_password``, or a generated one when empty) that the
    user must change at the next sign-in; ends their sessions. Returns the password."""
    session = request.dbsession
    with unscoped(session):
        password = users.reset_password(request, user, new_password or None)
        session.flush()
    return password


def set_user_active(request: Request, user: User, active: bool) -> bool:
    """Deactivate (ending the user's sessions) or reactivate; False when nothing changed."""
    session = request.dbsession
    with unscoped(session):
        changed = users.reactivate_user(request, user) if active else users.deactivate_user(request, user)
        session.flush()
    return changed
