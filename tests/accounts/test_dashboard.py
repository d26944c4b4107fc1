"""The signed-in home: the company's numbers, recent activity, widgets, role-aware navigation."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import webtest
from pluggy import PluginManager
from sqlalchemy import select

from orbitflow import hookimpl
from orbitflow.app import make_app
from orbitflow.leads.models import Lead, Stage
from orbitflow.plugins import Widget
from orbitflow.shared import shared
from support import login


def _stat(page, name: str) -> str:
    return re.search(rf'data-stat="{name}">([^<]*)<', page.text).group(1)


def _stage_row(page, stage) -> list[str]:
    row = re.search(rf'<tr data-stage="{stage.id}">(.*?)</tr>', page.text, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]


@pytest.fixture
def pipeline(db, team, make_company):
    stages = db.scalars(select(Stage).where(Stage.company_id == team.company.id).order_by(Stage.position)).all()
    agent = team["AGENT"]
    leads = [
        Lead(company_id=team.company.id, name="A", stage_id=stages[0].id, value=Decimal("100.50"), owner_id=agent.id),
        Lead(
            company_id=team.company.id, name="B", stage_id=stages[0].id, value=Decimal("200"), owner_id=team["OWNER"].id
        ),
        Lead(company_id=team.company.id, name="C", stage_id=stages[0].id),
        Lead(company_id=team.company.id, name="D", stage_id=stages[4].id, value=Decimal("1000")),
    ]
    other = make_company(name="Other Co")
    other_stage = db.scalars(select(Stage).where(Stage.company_id == other.id)).first()
    db.add_all([*leads, Lead(company_id=other.id, name="Not ours", stage_id=other_stage.id)])
    db.commit()
    return stages


def test_dashboard_shows_company_counts_pipeline_and_activity(testapp, team, pipeline):
    login(testapp, team["OWNER"])  # through the form: the sign-in is the activity shown
    page = testapp.get("/dashboard")
    assert "<h1>Acme Rockets</h1>" in page.text
    assert _stat(page, "users") == "5"
    assert _stat(page, "leads") == "4"  # the other company's lead is not counted
    assert _stage_row(page, pipeline[0]) == ["New", "3", "$300.50"]
    assert _stage_row(page, pipeline[4]) == ["Won won", "1", "$1,000.00"]
    assert _stage_row(page, pipeline[1]) == ["Contacted", "0", "$0.00"]
    # Recent activity comes from the audit log: the owner's sign-in is there.
    assert "Recent activity" in page.text and "auth.login" in page.text
    assert "Open the audit log" in page.text


def test_agents_count_their_own_and_unassigned_leads(testapp, login_as, team, pipeline):
    login_as(team["AGENT"])
    page = testapp.get("/dashboard")
    assert _stat(page, "leads") == "3"
    assert _stage_row(page, pipeline[0])[:2] == ["New", "2"]
    assert "leads you can see" in page.text
    # Without audit.view, the activity shown is one's own.
    assert "Your recent activity" in page.text and "Open the audit log" not in page.text


def test_stage_counts_are_one_query(testapp, login_as, team, pipeline, backend):
    from sqlalchemy import event

    login_as(team["OWNER"])
    statements = []

    def count(conn, cursor, statement, *args):
        if "stages" in statement and "leads" in statement:
            statements.append(statement)

    event.listen(backend.engine, "before_cursor_execute", count)
    try:
        testapp.get("/dashboard")
    finally:
        event.remove(backend.engine, "before_cursor_execute", count)
    assert len(statements) == 1 and "GROUP BY" in statements[0]


def _links(page) -> set[str]:
    return set(re.findall(r'<a href="http://localhost([^"]+)"', page.text))


def test_navigation_shows_only_what_the_role_may_open(browser, team):
    owner_links = _links(browser(team["OWNER"]).get("/dashboard"))
    viewer_links = _links(browser(team["VIEWER"]).get("/dashboard"))
    manager_links = _links(browser(team["MANAGER"]).get("/dashboard"))
    assert {"/settings/users", "/audit", "/settings/api-keys", "/settings/profile"} <= owner_links
    assert "/settings/profile" in viewer_links
    assert not {"/settings/users", "/audit", "/settings/api-keys", "/admin/companies"} & viewer_links
    assert "/settings/users" in manager_links and "/settings/api-keys" not in manager_links


def test_super_admin_sees_the_platform_area(browser, platform, make_user):
    page = browser(make_user(platform, "SUPER_ADMIN")).get("/dashboard")
    assert "/admin/companies" in _links(page)
    assert "/settings/users" not in _links(page)


class SampleWidgets:
    @hookimpl
    def dashboard_widgets(self, request):
        company = request.identity.company_id
        return [Widget("Sample numbers", "sample_widget.jinja2", {"company": company, "answer": 42}, order=1)]


def test_plugins_add_dashboard_widgets(backend, db, team):
    def install(config):
        config.add_jinja2_search_path("accounts:templates", name=".jinja2")
        shared(config.registry, PluginManager).register(SampleWidgets(), name="sample-widgets")

    app = make_app(backend.ini(), environ={}, engine=backend.engine, includes=[install])
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
    login(client, team["VIEWER"])
    page = client.get("/dashboard")
    assert "<h2>Sample numbers</h2>" in page.text
    assert f"Widget for {team.company.id}: 42" in page.text


def test_root_sends_visitors_to_login_and_users_home(testapp, login_as, team):
    assert "/login" in testapp.get("/", status=302).location
    login_as(team["VIEWER"])
    assert testapp.get("/", status=302).location.endswith("/dashboard")
