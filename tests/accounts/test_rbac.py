"""Every route of the app against every role: the security policy in one walk.

The walk reads the views from Pyramid's introspector, so a route added later (by the core
or a plugin) is covered without touching this file, and one without a permission fails.
"""

from __future__ import annotations

import pytest
import webtest
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED

from accounts.routewalk import (
    CSRF_EXEMPT_PREFIXES,
    CSRF_EXEMPT_ROUTES,
    View,
    path,
    routed_views,
    undeclared,
    unrouted_views,
)
from orbitflow.app import make_app
from orbitflow.leads.models import Lead, Stage
from orbitflow.plugins import RolePermissions
from orbitflow.security import CORE_PERMISSIONS, CSRF_MESSAGE, ROLES, SESSION_COOKIE
from orbitflow.shared import shared
from support import csrf_token, login

# Whom to ask when a permission is granted to several roles: the first that has it.
PREFERRED = ("OWNER", "ADMIN", "MANAGER", "AGENT", "VIEWER", "SUPER_ADMIN")


def _is_login_redirect(response) -> bool:
    return response.status_int in (302, 303) and "/login?next=" in response.headers.get("Location", "")


def _sets_session_cookie(response) -> bool:
    return any(name == "Set-Cookie" and value.startswith(f"{SESSION_COOKIE}=") for name, value in response.headerlist)


def _call(client: webtest.TestApp, view: View, url: str, *, with_csrf: bool):
    headers = {"Accept": "application/json" if view.is_api else "text/html"}
    if with_csrf and not view.is_safe:
        headers["X-CSRF-Token"] = csrf_token(client)
    return client.request(url, method=view.method, headers=headers, expect_errors=True)


def test_every_view_declares_a_permission(wsgi_app):
    views = routed_views(wsgi_app.registry)
    assert len(views) > 40  # the walk sees the whole app, plugins included
    assert undeclared(views) == []
    assert unrouted_views(wsgi_app.registry) == []


def test_a_route_without_permission_fails_the_walk_and_is_refused(backend, db, make_company, make_user):
    def forgetful_plugin(config):
        config.add_route("forgetful", "/forgetful")
        config.add_view(lambda request: Response("secret"), route_name="forgetful")
        config.add_route("falsely_public", "/falsely-public")
        config.add_view(
            lambda request: Response("open"), route_name="falsely_public", permission=NO_PERMISSION_REQUIRED
        )

    app = make_app(backend.ini(), environ={}, engine=backend.engine, includes=[forgetful_plugin])
    problems = undeclared(routed_views(app.registry))
    assert len(problems) == 2
    assert "/forgetful (forgetful, None): declares no permission" in problems[1]
    assert "/falsely-public" in problems[0] and "not on the allow-list" in problems[0]
    # The default permission refuses the forgotten view to everybody, owners included.
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
    login(client, make_user(make_company(), "OWNER"))
    client.get("/forgetful", status=403)


def test_anonymous_requests_are_refused_everywhere(wsgi_app, testapp):
    registry = wsgi_app.registry
    failures = []
    checked = 0
    for view in routed_views(registry):
        if view.is_public:
            continue
        checked += 1
        response = _call(testapp, view, path(registry, view), with_csrf=False)
        if view.is_api:
            ok = response.status_int == 401 and response.json["error"]["code"] == "unauthorized"
        else:
            ok = _is_login_redirect(response)
        if not ok:
            failures.append(f"{view}: {response.status}")
    assert checked > 40
    assert not failures, "\n".join(failures)


@pytest.fixture
def fixtures_for_walk(team, platform, make_user, db):
    """Users of every role, and real rows for the placeholders of safe (read) requests."""
    stage = db.query(Stage).filter_by(company_id=team.company.id).order_by(Stage.position).first()
    lead = Lead(company_id=team.company.id, name="Walk Lead", stage_id=stage.id)
    db.add(lead)
    db.commit()
    users = {**team.users, "SUPER_ADMIN": make_user(platform, "SUPER_ADMIN", username="root")}
    return users, {"team": team, "stage": stage, "lead": lead}


def _read_ids(view: View, rows: dict) -> dict[str, int]:
    """Real ids for a read request, by what the route is about; unknown ones stay missing."""
    name = view.route_name
    viewer = rows["team"]["VIEWER"].id
    ids: dict[str, int] = {"user_id": viewer, "stage_id": rows["stage"].id}
    if name.startswith(("user", "api_user")):
        ids["id"] = viewer
    elif name.startswith(("admin_company", "api_admin_company", "admin_user")):
        ids["id"] = rows["team"].company.id
    elif name.startswith(("lead", "api_lead", "pipeline_card")):
        ids["id"] = rows["lead"].id
    elif name.startswith(("stage", "api_stage")):
        ids["id"] = rows["stage"].id
    return ids


def test_role_permission_matrix(wsgi_app, another_client, login_as, fixtures_for_walk):
    """Each role is refused (403) exactly where its role lacks the view's permission."""
    registry = wsgi_app.registry
    grants = shared(registry, RolePermissions)
    users, rows = fixtures_for_walk
    clients = {role: login_as(user, another_client()) for role, user in users.items()}
    failures = []
    for view in routed_views(registry):
        if view.is_static:
            continue
        # Writes get ids that exist nowhere: the walk must not change what it walks.
        url = path(registry, view, _read_ids(view, rows) if view.is_safe else None)
        for role in ROLES:
            client = clients[role]
            response = _call(client, view, url, with_csrf=True)
            allowed = view.permitted(grants[role])
            status = response.status_int
            # Refused with 403 exactly when not allowed; never an error, never signed out.
            ok = (status == 403) != allowed and status < 500 and not _is_login_redirect(response)
            if not ok:
                failures.append(f"{role} {'may' if allowed else 'may not'} {view}: got {response.status}")
            if _sets_session_cookie(response):  # signed out (logout, log out everywhere)
                clients[role] = login_as(users[role], another_client())
    assert not failures, "\n".join(failures)


def test_unsafe_requests_without_csrf_token_are_refused(wsgi_app, another_client, login_as, fixtures_for_walk):
    registry = wsgi_app.registry
    grants = shared(registry, RolePermissions)
    users, _ = fixtures_for_walk
    clients: dict[str, webtest.TestApp] = {}
    failures = []
    checked = 0
    for view in routed_views(registry):
        if view.is_static or view.pattern.startswith(CSRF_EXEMPT_PREFIXES) or view.route_name in CSRF_EXEMPT_ROUTES:
            continue
        if view.is_safe and view.methods:
            continue
        role = next((role for role in PREFERRED if view.permitted(grants[role])), None)
        if role is None and not view.is_public:
            continue
        if role not in clients:
            clients[role] = login_as(users[role], another_client()) if role else another_client()
        client = clients[role]
        csrf_token(client)  # the browser has the CSRF cookie, the request lacks the token
        checked += 1
        method = view.method if view.methods else "POST"
        response = client.request(path(registry, view), method=method, expect_errors=True)
        refused = response.json["error"]["code"] == "csrf_failed" if view.is_api else CSRF_MESSAGE in response.text
        if response.status_int != 400 or not refused:
            failures.append(f"{method} {view} as {role or 'visitor'}: {response.status}")
    assert checked > 25
    assert not failures, "\n".join(failures)


def test_core_permission_table_and_plugin_grants_make_the_role_table(wsgi_app):
    grants = shared(wsgi_app.registry, RolePermissions)
    for permission, (roles, _description) in CORE_PERMISSIONS.items():
        assert {role for role in ROLES if permission in grants[role]} == roles, permission
    # Plugins add theirs through the permissions hook (the bundled quiz plugin here).
    assert "quizzes.publish" in grants["MANAGER"] and "quizzes.publish" not in grants["AGENT"]
    assert grants["SUPER_ADMIN"] >= {"platform.admin", "audit.view"}
    assert "users.manage" not in grants["MANAGER"] and "owners.manage" not in grants["ADMIN"]
