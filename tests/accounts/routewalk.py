"""Every view of the app, read from Pyramid's introspector, and paths to reach them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyramid.interfaces import IRoutesMapper
from pyramid.registry import Registry
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.static import static_view

from orbitflow.security import UNDECLARED

# Routes anyone may open, signed in or not. Keep this list short: every other view must
# name a permission.
PUBLIC_ROUTES = {
    "login",  # the sign-in form
    "login_two_factor",  # the second step of a sign-in: a challenge, not a session, reaches it
    "logout",  # signing out must work whatever the session's state
    "health",  # load balancers and uptime checks
    "api_openapi",  # the API's description
    "client_errors",  # browser errors reach the system log from any page, the login page too
    "impersonation_stop",  # leaving an impersonation, whatever the impersonated role
    "quiz_theme",  # the stylesheet of public quiz pages
    "favicon",  # browsers ask every site for /favicon.ico
    "password_forgot",  # asking for a password reset link
    "password_reset",  # following the e-mailed link (password reset or invitation)
}
# Public quiz pages live under this prefix.
PUBLIC_PREFIXES = ("/q/",)
# Public views that take form posts from other sites (embedded quizzes) may skip CSRF.
CSRF_EXEMPT_PREFIXES = ("/q/",)

# Views that check a further permission inside, besides the one they declare.
INNER_PERMISSIONS: dict[str, str] = {}
# Public views that may skip the CSRF check.
CSRF_EXEMPT_ROUTES = {"health"}

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MISSING_ID = 987654321
PLACEHOLDER = re.compile(r"\{(\w+)(?::((?:[^{}]|\{[^}]*\})*))?\}")
ALTERNATIVES = re.compile(r"^[\w-]+(?:\|[\w-]+)*$")
SAMPLES = ("336699", "sample", "1")


@dataclass(frozen=True)
class View:
    route_name: str
    pattern: str
    methods: tuple[str, ...]  # empty: any method
    permission: str | None
    require_csrf: bool | None
    is_static: bool

    @property
    def method(self) -> str:
        """The method to call it with (GET for views that take any)."""
        return self.methods[0] if self.methods else "GET"

    @property
    def is_safe(self) -> bool:
        return self.method in SAFE_METHODS

    @property
    def is_public(self) -> bool:
        return self.is_static or self.route_name in PUBLIC_ROUTES or self.pattern.startswith(PUBLIC_PREFIXES)

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("/api/")

    @property
    def placeholders(self) -> dict[str, str]:
        """Placeholder name -> its regular expression ("" when it has none)."""
        return dict(PLACEHOLDER.findall(self.pattern))

    def permitted(self, permissions: frozenset[str]) -> bool:
        if self.is_public:
            return True
        inner = INNER_PERMISSIONS.get(self.route_name)
        return self.permission in permissions and (inner is None or inner in permissions)

    def __str__(self) -> str:
        return f"{self.method} {self.pattern} ({self.route_name}, {self.permission})"


def routed_views(registry: Registry) -> list[View]:
    views = []
    for item in registry.introspector.get_category("views") or ():
        intr = item["introspectable"]
        if intr["route_name"] is None:
            continue
        permissions = [rel["value"] for rel in item["related"] if rel.category_name == "permissions"]
        patterns = [rel["pattern"] for rel in item["related"] if rel.category_name == "routes"]
        methods = intr["request_methods"]
        if isinstance(methods, str):
            methods = (methods,)
        views.append(
            View(
                route_name=intr["route_name"],
                pattern=patterns[0] if patterns else "",
                methods=tuple(sorted(methods or ())),
                permission=permissions[0] if permissions else None,
                require_csrf=intr["require_csrf"],
                is_static=isinstance(intr["callable"], static_view),
            )
        )
    return sorted(views, key=lambda view: (view.pattern, view.method))


def unrouted_views(registry: Registry) -> list[str]:
    """Views without a route that are not error views: reachable by traversal by accident."""
    found = []
    for item in registry.introspector.get_category("views") or ():
        intr = item["introspectable"]
        context = intr["context"]
        if intr["route_name"] is not None:
            continue
        if isinstance(context, type) and issubclass(context, BaseException):
            continue
        if getattr(context, "__name__", "") == "IExceptionResponse":
            continue
        found.append(f"{intr['callable']} (context {context})")
    return found


def undeclared(views: list[View]) -> list[str]:
    """Views that name no permission, or say they need none without being public."""
    problems = []
    for view in views:
        if view.is_public:
            continue
        if view.permission in (None, UNDECLARED):
            problems.append(f"{view}: declares no permission")
        elif view.permission == NO_PERMISSION_REQUIRED:
            problems.append(f"{view}: public, but not on the allow-list of public routes")
    return problems


def path(registry: Registry, view: View, ids: dict[str, int] | None = None) -> str:
    """A path of ``view``'s route, placeholders filled from ``ids`` (or an id that exists
    nowhere)."""
    route = registry.queryUtility(IRoutesMapper).get_route(view.route_name)
    values = {name: (ids or {}).get(name) or _sample(regex) for name, regex in view.placeholders.items()}
    return route.generate(values)


def _sample(regex: str) -> str | int:
    """A value the placeholder's expression accepts: an id for numbers, else a sample."""
    if regex in ("", r"\d+"):
        return MISSING_ID
    if ALTERNATIVES.match(regex):
        return regex.split("|")[0]
    for sample in SAMPLES:
        if re.fullmatch(regex, sample):
            return sample
    raise ValueError(f"no sample value for the placeholder pattern {regex!r}")
