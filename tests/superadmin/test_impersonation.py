"""Impersonation: read-only, visible, audited; every unsafe route is refused while it lasts."""

from __future__ import annotations

import re

import pytest
from pyramid.interfaces import IRoutesMapper
from sqlalchemy import select

from orbitflow.accounts.guards import IMPERSONATION_EXITS, READ_ONLY_MESSAGE
from orbitflow.accounts.models import UserSession
from orbitflow.audit.models import AuditEntry
from orbitflow.leads.models import Lead, Stage
from orbitflow.models.meta import Base
from support import csrf_token

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
PLACEHOLDER = re.compile(r"\{(\w+)(?::([^}]*))?\}")


def _start(client, company, user, status: int = 303):
    return client.post(
        f"/admin/companies/{company.id}/users/{user.id}/impersonate", {"csrf_token": csrf_token(client)}, status=status
    )


def _entries(db, action: str) -> list[AuditEntry]:
    db.expire_all()
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _database_state(db) -> dict[str, list[tuple]]:
    """Every row of every table, to prove a request changed nothing."""
    db.expire_all()
    state = {}
    with db.get_bind().connect() as connection:
        for table in Base.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            state[table.name] = [tuple(row) for row in connection.execute(query)]
    return state


def _fill(match: re.Match, values: dict[str, str], default: str) -> str:
    """A value for a route placeholder that its pattern accepts (real ids where known)."""
    name, regex = match.group(1), match.group(2) or "[^/]+"
    candidates = [values.get(name), default, *regex.split("|"), "x"]
    return next(value for value in candidates if value is not None and re.fullmatch(regex, value))


def unsafe_routes(app) -> list[tuple[str, str, str]]:
    """(route name, pattern, method) of every view that accepts an unsafe method."""
    registry = app.registry
    mapper = registry.queryUtility(IRoutesMapper)
    found: set[tuple[str, str, str]] = set()
    for view in registry.introspector.get_category("views") or ():
        intr = view["introspectable"]
        route_name = intr["route_name"]
        if not route_name or route_name.startswith("__"):
            continue
        methods = intr["request_methods"]
        if methods is None:
            methods = UNSAFE_METHODS
        elif isinstance(methods, str):
            methods = (methods,)
        route = mapper.get_route(route_name)
        for method in methods:
            if method in UNSAFE_METHODS:
                found.add((route_name, route.pattern, method))
    return sorted(found)


@pytest.fixture
def impersonating(admin_client, acme, acme_owner):
    response = _start(admin_client, acme, acme_owner)
    assert response.location.endswith("/dashboard")
    return admin_client


def test_start_shows_the_users_view_with_a_banner(impersonating, acme, db):
    page = impersonating.get("/dashboard", status=200)
    banner = page.html.find(class_="impersonation-banner").get_text(" ", strip=True)
    assert "Read-only view as olivia of Acme Rockets" in banner
    assert "Acme Rockets" in page.html.find("h1").text
    impersonating.get("/admin/companies", status=403)  # the owner's rights only
    entry = _entries(db, "impersonation.start")[0]
    assert (entry.company_id, entry.actor_name, entry.target_type) == (acme.id, "root", "user")
    assert entry.changes == {"user": "olivia"}


def test_every_unsafe_route_is_refused_and_changes_nothing(impersonating, acme, acme_owner, db):
    stage = db.scalars(select(Stage).where(Stage.company_id == acme.id)).first()
    lead = Lead(company_id=acme.id, name="Target lead", stage_id=stage.id, owner_id=acme_owner.id)
    db.add(lead)
    db.commit()
    values = {"subscription_id": acme.subscription_id, "user_id": str(acme_owner.id)}
    routes = [route for route in unsafe_routes(impersonating.app) if route[0] not in IMPERSONATION_EXITS]
    names = {name for name, _, _ in routes}
    # The walk covers the core's writes, the super admin's own and the plugins' alike.
    assert {"admin_company_new", "admin_impersonate", "api_admin_companies", "password_change", "login"} <= names
    mapper = impersonating.app.registry.queryUtility(IRoutesMapper)
    token = csrf_token(impersonating)
    before = _database_state(db)
    for name, pattern, method in routes:
        company_scoped = pattern.startswith("/admin/companies/") or pattern.startswith("/api/v1/admin/")
        default_id = str(acme.id if company_scoped else lead.id)
        path = PLACEHOLDER.sub(lambda match, default=default_id: _fill(match, values, default), pattern)
        assert mapper.get_route(name).match(path) is not None, (name, path)
        response = impersonating.request(
            path,
            method=method,
            body=f"csrf_token={token}&name=Changed&username=changed".encode(),
            content_type="application/x-www-form-urlencoded",
            headers={"X-CSRF-Token": token},
            expect_errors=True,
        )
        assert response.status_int == 403, (name, method, path, response.status)
        assert READ_ONLY_MESSAGE in response.text, (name, method, path)
    assert _database_state(db) == before
    # Still impersonating: reading works, and leaving does.
    impersonating.get("/dashboard", status=200)


def test_stop_returns_to_the_super_admin_and_is_audited(impersonating, acme, acme_owner, db):
    response = impersonating.post("/admin/impersonation/stop", {"csrf_token": csrf_token(impersonating)}, status=303)
    assert response.location.endswith(f"/admin/companies/{acme.id}")
    page = response.follow(status=200)
    assert page.html.find(class_="impersonation-banner") is None
    assert "You are back as root." in page.text
    entry = _entries(db, "impersonation.stop")[0]
    assert (entry.company_id, entry.actor_name, entry.target_id) == (acme.id, "root", str(acme_owner.id))
    # Both entries are in the platform-wide audit log.
    log = impersonating.get("/admin/audit", {"action": "impersonation.*"})
    assert log.html.find("table").get_text().count("impersonation.st") == 2


def test_super_admins_cannot_be_impersonated(admin_client, platform, make_user, db):
    other = make_user(platform, "SUPER_ADMIN", username="root2")
    page = _start(admin_client, platform, other).follow()
    assert "Super admins cannot be impersonated." in page.text
    admin_client.get("/admin/companies", status=200)  # still the super admin
    assert _entries(db, "impersonation.start") == []


def test_inactive_users_and_companies_cannot_be_impersonated(admin_client, acme, make_user, db):
    gone = make_user(acme, "AGENT", username="gone", is_active=False)
    assert "gone is deactivated." in _start(admin_client, acme, gone).follow().text
    active = make_user(acme, "AGENT", username="here")
    acme.is_active = False
    db.commit()
    assert "Acme Rockets is deactivated" in _start(admin_client, acme, active).follow().text
    assert _entries(db, "impersonation.start") == []


@pytest.mark.parametrize("role", ["OWNER", "ADMIN"])
def test_only_super_admins_start_impersonation(testapp, login_as, acme, acme_owner, make_user, db, unchanged, role):
    agent = make_user(acme, "AGENT", username="alex")
    actor = acme_owner if role == "OWNER" else make_user(acme, role, username="adam")
    login_as(actor)
    with unchanged():
        _start(testapp, acme, agent, status=403)
    db.expire_all()
    sessions = db.scalars(select(UserSession).where(UserSession.ended_at.is_(None))).all()
    assert [(s.user_id, s.impersonator_id) for s in sessions] == [(actor.id, None)]
    # The browser is still signed in as its own user, not as the agent.
    assert testapp.get("/api/v1/me").json["username"] == actor.username


def test_stop_without_impersonation_just_goes_home(admin_client):
    response = admin_client.post("/admin/impersonation/stop", {"csrf_token": csrf_token(admin_client)}, status=303)
    assert response.location.endswith("/dashboard")


def test_while_impersonating_nothing_that_changes_things_is_offered(impersonating, acme, acme_owner, db):
    stage = db.scalars(select(Stage).where(Stage.company_id == acme.id)).first()
    lead = Lead(company_id=acme.id, name="Look only", stage_id=stage.id)
    db.add(lead)
    db.commit()
    board = impersonating.get("/pipeline")
    assert board.html.select_one("#board")["data-can-edit"] == "0"  # board.js: no dragging
    assert board.html.select(".kcard-move") == []
    assert "New lead" not in board.text and "Manage stages" not in board.text
    listing = impersonating.get("/leads")
    assert "New lead" not in listing.text and "Import CSV" not in listing.text
    assert listing.html.select("#bulk-action") == []
    page = impersonating.get(f"/leads/{lead.id}")
    assert page.html.select_one("form fieldset").has_attr("disabled")
    assert "Read only while impersonating." in page.text
    assert not [b for b in page.html.select("button") if b.get_text(strip=True) in ("Save", "Add note", "Delete")]
    # The forms themselves are not offered either: opening one says why.
    refused = impersonating.get("/leads/new", status=403)
    assert "Read-only while impersonating" in refused.text
    profile = impersonating.get("/settings/profile")
    assert profile.html.select_one("#profile-form fieldset").has_attr("disabled")
    assert "Save profile" not in profile.text and "Log out everywhere" not in profile.text
    assert profile.html.select('form[action*="/settings/sessions/"]') == []
    nav = impersonating.get("/dashboard").html
    assert nav.select_one('a[href$="/settings/api-keys"]') is None
    assert nav.select_one('a[href$="/audit"]') is not None  # reading stays


def test_the_owner_still_has_the_controls_impersonation_hides(testapp, login_as, acme, acme_owner):
    login_as(acme_owner)
    board = testapp.get("/pipeline")
    assert board.html.select_one("#board")["data-can-edit"] == "1"
    assert "New lead" in board.text
    testapp.get("/leads/new", status=200)
    profile = testapp.get("/settings/profile")
    assert "Save profile" in profile.text and profile.html.select_one("#profile-form fieldset") is None
