"""Roles, permissions and the security policy.

Identity comes from the signed session cookie (naming a server-side session) or an
``Authorization: Bearer`` API key;
``permits`` looks the permission up in the role table (the core's table below merged with
the plugins' grants at start-up). No database query happens in a permission check.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pyramid.request import Request, RequestLocalCache
from pyramid.security import Allowed, Denied

from orbitflow.config import Settings, get_settings

SUPER_ADMIN = "SUPER_ADMIN"
OWNER = "OWNER"
ADMIN = "ADMIN"
MANAGER = "MANAGER"
AGENT = "AGENT"
VIEWER = "VIEWER"
# Highest first.
ROLES = (SUPER_ADMIN, OWNER, ADMIN, MANAGER, AGENT, VIEWER)
COMPANY_ROLES = ROLES[1:]
ROLE_LABELS = {
    SUPER_ADMIN: "Super admin",
    OWNER: "Owner",
    ADMIN: "Admin",
    MANAGER: "Manager",
    AGENT: "Agent",
    VIEWER: "Viewer",
}

# Permission granted to nobody: views that forget theirs are refused to everyone.
UNDECLARED = "__undeclared__"

_EVERYONE = set(COMPANY_ROLES) | {SUPER_ADMIN}
_SELLERS = {OWNER, ADMIN, MANAGER, AGENT}
_MANAGERS = {OWNER, ADMIN, MANAGER}
_ADMINS = {OWNER, ADMIN}

# The one table of the core's permissions: name -> (roles, description).
CORE_PERMISSIONS: dict[str, tuple[set[str], str]] = {
    "dashboard.view": (_EVERYONE, "Open the dashboard"),
    "profile.edit": (_EVERYONE, "Edit one's own profile and password"),
    "leads.view": (set(COMPANY_ROLES), "See leads (agents: their own and unassigned ones)"),
    "leads.view_all": (_MANAGERS | {VIEWER}, "See every lead of the company"),
    "leads.create": (_SELLERS, "Create leads"),
    "leads.edit": (_SELLERS, "Edit, move and annotate leads"),
    "leads.assign": (_MANAGERS, "Assign leads to any user"),
    "leads.delete": (_MANAGERS, "Delete leads"),
    "leads.import": (_MANAGERS, "Import leads from CSV"),
    "leads.export": (_MANAGERS, "Export leads to CSV"),
    "stages.manage": (_ADMINS, "Add, rename, reorder and remove pipeline stages"),
    "users.view": (_MANAGERS, "See the company's users"),
    "users.manage": (_ADMINS, "Create, edit and deactivate users"),
    "owners.manage": ({OWNER}, "Create, edit and deactivate owners"),
    "apikeys.manage": (_ADMINS, "Create and revoke API keys"),
    "webhooks.manage": (_ADMINS, "Create, test and delete webhooks; read and resend their deliveries"),
    "audit.view": (_ADMINS | {SUPER_ADMIN}, "Read the audit log"),
    "company.settings": (_ADMINS, "Edit the company's settings"),
    "company.two_factor": ({OWNER, SUPER_ADMIN}, "Require two-factor sign-in of every user of the company"),
    "users.two_factor_reset": ({OWNER}, "Reset the second factor of a user of the company"),
    "platform.admin": ({SUPER_ADMIN}, "Manage companies, users and logs of the platform"),
}


# The core's permissions that only let one read: what impersonation keeps of a role.
# profile.edit stays for the pages that say who one is (the profile, /api/v1/me); what
# they would change is refused by the impersonation guard.
READ_ONLY_PERMISSIONS = frozenset(
    {"dashboard.view", "profile.edit", "leads.view", "leads.view_all", "leads.export", "users.view", "audit.view"}
)
IMPERSONATION_REFUSAL = "Read-only while impersonating: this page is for making changes."


def role_rank(role: str) -> int:
    """0 for the highest role; unknown roles rank below every real one."""
    return ROLES.index(role) if role in ROLES else len(ROLES)


def role_at_most(role: str, ceiling: str) -> bool:
    """Is ``role`` the same as or below ``ceiling``?"""
    return role in ROLES and role_rank(role) >= role_rank(ceiling)


def lower_role(role: str, other: str) -> str:
    """The lower of two roles (an unknown role is the lowest of all)."""
    return role if role_rank(role) >= role_rank(other) else other


# The signed cookie that names the browser's server-side session (orbitflow.accounts.sessions).
SESSION_COOKIE = "orbitflow_session"


@dataclass(frozen=True)
class Identity:
    user_id: int
    company_id: int
    role: str
    username: str
    permissions: frozenset[str]
    impersonator_id: int | None = None
    api_key_id: int | None = None
    must_change_password: bool = False
    # The company requires a second factor this user has not set up yet (enrolment only).
    must_enrol_two_factor: bool = False
    session_id: int | None = None  # the server-side session (None for API keys)

    @property
    def is_impersonating(self) -> bool:
        return self.impersonator_id is not None


def hash_api_key(raw_key: str) -> str:
    # API keys are 256-bit random strings: a fast hash is enough, a slow one would cost
    # every API request.
    return hashlib.sha256(raw_key.encode()).hexdigest()


class SecurityPolicy:
    def __init__(self) -> None:
        # request.identity is a plain property: load the identity once per request.
        self._identities = RequestLocalCache(self._load_identity)

    def identity(self, request: Request) -> Identity | None:
        return self._identities.get_or_create(request)

    @staticmethod
    def _load_identity(request: Request) -> Identity | None:
        from orbitflow.accounts.identity import load_identity

        return load_identity(request)

    def authenticated_userid(self, request: Request) -> int | None:
        identity = request.identity
        return identity.user_id if identity else None

    def permits(self, request: Request, context, permission: str):
        identity = request.identity
        if identity is None:
            return Denied("not signed in")
        if permission in identity.permissions:
            return Allowed(f"role {identity.role} has {permission}")
        # Pyramid's refusal carries this message instead of naming the view's function.
        label = ROLE_LABELS.get(identity.role, identity.role)
        request.authdebug_message = (
            IMPERSONATION_REFUSAL
            if identity.is_impersonating
            else f"Your role ({label}) does not have the permission “{permission}”."
        )
        return Denied(f"role {identity.role} lacks {permission}")

    def remember(self, request: Request, userid, **kw):
        raise NotImplementedError("use orbitflow.accounts.sessions.start_session(request, user)")

    def forget(self, request: Request, **kw):
        from orbitflow.accounts.sessions import signed_out_headers

        return signed_out_headers(request)


def uses_api_key(request: Request) -> bool:
    """API keys count under /api/ only; pages are for people with a session."""
    return request.path_info.startswith("/api/") and request.headers.get("Authorization", "").startswith("Bearer ")


def csrf_applies(request: Request) -> bool:
    """API key requests carry no cookie, so they need (and can have) no CSRF token."""
    return not uses_api_key(request)


CSRF_MESSAGE = "This form has expired or was not sent from an OrbitFlow page. Reload the page and try again."


def csrf_refused(exc, request: Request):
    """A request without a valid CSRF token: a clear message instead of Pyramid's."""
    from pyramid.renderers import render_to_response

    from orbitflow.web.errors import json_error

    if request.path_info.startswith("/api/"):
        return json_error(
            request, 400, "Send the X-CSRF-Token header (from the page's csrf-token meta tag).", code="csrf_failed"
        )
    response = render_to_response(
        "error.jinja2", {"status": 400, "title": "Please try again", "message": CSRF_MESSAGE}, request=request
    )
    response.status_int = 400
    return response


def includeme(config) -> None:
    from pyramid.csrf import CookieCSRFStoragePolicy
    from pyramid.exceptions import BadCSRFOrigin, BadCSRFToken

    settings: Settings = get_settings(config.registry)
    config.set_security_policy(SecurityPolicy())
    config.set_default_permission(UNDECLARED)
    config.set_csrf_storage_policy(
        CookieCSRFStoragePolicy(
            cookie_name="orbitflow_csrf", secure=settings.secure_cookies, samesite="Lax", httponly=True
        )
    )
    config.set_default_csrf_options(require_csrf=True, callback=csrf_applies)
    for refusal in (BadCSRFToken, BadCSRFOrigin):
        config.add_exception_view(csrf_refused, context=refusal)
