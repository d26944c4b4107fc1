"""Plugins: a distribution of its own, installed with pip, found by its entry point and
enabled by name; misspelt hooks and unknown names stop start-up; events after commit."""

from __future__ import annotations

import importlib
import re
import sys
import uuid

import pytest
import webtest
from sqlalchemy import inspect, text

from foundation import plugin_dist
from foundation.helpers import ROOT, TEST_SECRET, base_env, nonblank_lines, password_hash, run
from orbitflow.accounts.models import User
from orbitflow.app import make_app
from orbitflow.config import ConfigError, load_settings
from orbitflow.db import make_engine, make_session_factory, unscoped
from orbitflow.models.meta import Base
from orbitflow.plugins import installed_plugins, make_plugin_manager
from orbitflow.tenants.models import Company
from support import login

PLUGINS = "quiz pixels analytics hello"


@pytest.fixture(scope="module")
def hello_site(tmp_path_factory):
    """The throw-away plugin, pip-installed into a folder on sys.path (and PYTHONPATH)."""
    source = plugin_dist.write_source(tmp_path_factory.mktemp("hello-src"))
    target = plugin_dist.install(source, tmp_path_factory.mktemp("hello-site"))
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    importlib.invalidate_caches()
    # The plugin's table exists only in this module's databases: forget it again, so the
    # shared test databases are not asked to clear it.
    table = Base.metadata.tables.get("hello_notes")
    if table is not None:
        Base.metadata.remove(table)


@pytest.fixture(scope="module")
def hello_database(backend_name, request, hello_site, tmp_path_factory):
    """A new database, initialised by the ``initializedb`` console script with the plugin
    enabled and ``--demo``, in a process that finds the plugin on its PYTHONPATH."""
    if backend_name == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('hello-db') / 'hello.sqlite'}"
    else:
        url = request.getfixturevalue("new_mariadb_database")()
    folder = tmp_path_factory.mktemp("hello-run")
    env = base_env(folder, DATABASE_URL=url, ORBITFLOW_PLUGINS=PLUGINS)
    env["PYTHONPATH"] = ":".join(filter(None, [str(hello_site), env.get("PYTHONPATH")]))
    result = run(["initializedb", ROOT / "development.ini", "--demo"], env, cwd=folder, timeout=300)
    assert result.returncode == 0, result.stderr
    return url, result.stdout


@pytest.fixture(scope="module")
def hello_app(hello_database):
    url, _ = hello_database
    ini = {
        "sqlalchemy.url": url,
        "orbitflow.auth_secret": TEST_SECRET,
        "orbitflow.auth_url": "http://localhost",
        "orbitflow.plugins": PLUGINS,
        "orbitflow.deliveries.worker_thread": "false",
    }
    engine = make_engine(load_settings(ini, environ={}).database)
    yield make_app(ini, environ={}, engine=engine), engine
    engine.dispose()


@pytest.fixture(scope="module")
def hello_people(hello_app):
    """Two companies, each with an owner and a viewer, and one hello note each."""
    from orbitflow_hello.models import HelloNote

    _, engine = hello_app
    session = make_session_factory(engine)()
    people = {}
    with unscoped(session):
        for name in ("Hello A", "Hello B"):
            company = Company(name=name, subscription_id=f"hello-{uuid.uuid4().hex[:6]}", plan="FREE")
            company.max_users, company.max_quizzes = 10, 10
            session.add(company)
            session.flush()
            for role in ("OWNER", "VIEWER"):
                user = User(
                    company_id=company.id,
                    username=role.lower(),
                    name=f"{role} of {name}",
                    role=role,
                    password_hash=password_hash(),
                )
                session.add(user)
                people[(name, role)] = user
            session.add(HelloNote(company_id=company.id, body=f"note of {name}"))
        session.commit()
        for user in people.values():
            session.refresh(user)
            user.company  # noqa: B018 -- loaded now, used by login() after the session closes
    session.close()
    return people


def client(hello_app) -> webtest.TestApp:
    return webtest.TestApp(hello_app[0], extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.8.0.1"})


def test_the_installed_distribution_is_found_by_its_entry_point(hello_site):
    plugins = installed_plugins()
    assert {"quiz", "pixels", "analytics", "hello", "typo"} <= set(plugins)
    assert plugins["hello"].dist.name == "orbitflow-hello"
    assert (hello_site / "orbitflow_hello" / "templates" / "hello" / "page.jinja2").exists()


def test_initializedb_runs_the_plugin_migration_and_demo_data(hello_database, hello_app):
    _, output = hello_database
    assert "Created a hello note." in output
    _, engine = hello_app
    assert "hello_notes" in inspect(engine).get_table_names()
    with engine.connect() as connection:
        heads = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
        demo_notes = connection.execute(text("SELECT body FROM hello_notes")).scalars().all()
    assert "h0001" in heads
    assert demo_notes == ["Hello, demo"]


def test_plugin_route_nav_item_widget_and_settings_page(hello_app, hello_people):
    browser = client(hello_app)
    login(browser, hello_people[("Hello A", "OWNER")])
    dashboard = browser.get("/dashboard", status=200)
    assert re.search(r'<a href="http://localhost/hello"[^>]*>Hello</a>', dashboard.text)
    assert ">Hello settings</a>" in dashboard.text
    assert '<p class="hello-widget">Greetings from a plugin widget</p>' in dashboard.text
    page = browser.get("/hello", status=200)
    assert "<h1>Hello from a plugin</h1>" in page.text
    assert '<a class="brand"' in page.text  # the plugin's template extends the product layout
    # The plugin's model is tenant-scoped like the core's: company A sees its own note only.
    assert '<p class="hello-count">1 notes in your company</p>' in page.text
    assert 'aria-current="page">Hello</a>' in page.text


def test_plugin_permission_grants_only_its_roles(hello_app, hello_people):
    browser = client(hello_app)
    login(browser, hello_people[("Hello A", "VIEWER")])
    dashboard = browser.get("/dashboard", status=200)
    assert ">Hello</a>" not in dashboard.text
    assert "hello-widget" in dashboard.text  # widgets are the plugin's own business
    browser.get("/hello", status=403)


def test_health_counts_the_plugin_branch(hello_app):
    response = client(hello_app).get("/api/health", status=200)
    assert response.json["migrations"] == "current"


def test_unknown_plugin_name_is_refused_with_the_installed_ones(hello_site):
    with pytest.raises(ConfigError) as raised:
        make_plugin_manager(["quiz", "helo"])
    assert str(raised.value) == (
        "unknown plugin 'helo' in orbitflow.plugins; installed: analytics, hello, pixels, quiz, typo"
    )


def test_misspelt_hook_stops_start_up(hello_site, backend):
    with pytest.raises(ConfigError) as raised:
        make_app(backend.ini(**{"orbitflow.plugins": "quiz typo"}), environ={}, engine=backend.engine)
    message = str(raised.value)
    assert message.startswith("plugin 'typo' implements 'nav_item', which is not an OrbitFlow hook; the hooks are: ")
    assert "nav_items" in message


def test_misspelt_hook_stops_pserve_with_one_line(hello_site, tmp_path):
    env = base_env(
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite'}",
        AUTH_SECRET=TEST_SECRET,
        AUTH_URL="https://crm.example.com",
        ORBITFLOW_PLUGINS="quiz typo",
        PORT="1",
    )
    env["PYTHONPATH"] = ":".join(filter(None, [str(hello_site), env.get("PYTHONPATH")]))
    result = run(["pserve", ROOT / "production.ini"], env, cwd=tmp_path, timeout=60)
    assert result.returncode != 0
    [line] = nonblank_lines(result.stderr)
    assert line.startswith("orbitflow: configuration error: plugin 'typo' implements 'nav_item'")
