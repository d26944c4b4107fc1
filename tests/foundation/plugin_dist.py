"""A throw-away plugin distribution, written to a temp dir and installed with pip.

``orbitflow_hello`` uses every kind of hook a third-party plugin would: routes and views,
templates, navigation, settings pages, dashboard widgets, permissions, a model and its own
Alembic branch, and demo data. ``orbitflow_typo`` misspells a hook name.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

FILES = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "orbitflow-hello"
        version = "0.1.0"
        dependencies = []

        [project.entry-points."orbitflow.plugins"]
        hello = "orbitflow_hello"
        typo = "orbitflow_typo"

        [tool.setuptools]
        packages = ["orbitflow_hello", "orbitflow_hello.migrations", "orbitflow_typo"]

        [tool.setuptools.package-data]
        orbitflow_hello = ["templates/hello/*.jinja2"]
    """,
    "orbitflow_hello/__init__.py": '''
        """Says hello: the smallest plugin that uses every kind of OrbitFlow hook."""

        from sqlalchemy import func, select

        from orbitflow import hookimpl
        from orbitflow.plugins import NavItem, PermissionGrant, Widget


        def hello_page(request):
            from orbitflow_hello.models import HelloNote

            count = request.dbsession.scalar(select(func.count(HelloNote.id)))
            return {"note_count": count}


        @hookimpl
        def add_routes(config):
            config.add_route("hello", "/hello")
            config.add_view(hello_page, route_name="hello", renderer="hello/page.jinja2", permission="hello.view")


        @hookimpl
        def template_dirs():
            return ["orbitflow_hello:templates"]


        @hookimpl
        def nav_items(request):
            return [NavItem("Hello", "hello", "hello.view", order=50)]


        @hookimpl
        def settings_pages(request):
            return [NavItem("Hello settings", "hello", "hello.view", order=50)]


        @hookimpl
        def dashboard_widgets(request):
            return [Widget("Hello widget", "hello/widget.jinja2", {"greeting": "Greetings from a plugin widget"})]


        @hookimpl
        def permissions():
            return [PermissionGrant("hello.view", ("OWNER", "ADMIN"), "See the hello page")]


        @hookimpl
        def model_modules():
            return ["orbitflow_hello.models"]


        @hookimpl
        def migration_locations():
            return ["orbitflow_hello:migrations"]


        @hookimpl
        def demo_data(session, company):
            from orbitflow_hello.models import HelloNote

            session.add(HelloNote(company_id=company.id, body="Hello, demo"))
            session.flush()
            return ["Created a hello note."]
    ''',
    "orbitflow_hello/models.py": """
        from sqlalchemy import String
        from sqlalchemy.orm import Mapped, mapped_column

        from orbitflow.models.meta import Base, BigId, TenantOwned


        class HelloNote(TenantOwned, Base):
            __tablename__ = "hello_notes"

            id: Mapped[int] = mapped_column(BigId, primary_key=True)
            body: Mapped[str] = mapped_column(String(200), nullable=False)
    """,
    "orbitflow_hello/migrations/__init__.py": "",
    "orbitflow_hello/migrations/h0001_hello_notes.py": '''
        """Hello notes.

        Revision ID: h0001
        Revises:
        Depends on: 0001
        """

        import sqlalchemy as sa
        from alembic import op

        revision = "h0001"
        down_revision = None
        branch_labels = ("hello",)
        depends_on = "0001"


        def upgrade():
            op.create_table(
                "hello_notes",
                sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
                sa.Column("body", sa.String(200), nullable=False),
                sa.Column(
                    "company_id",
                    sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                    sa.ForeignKey("companies.id", ondelete="CASCADE", name="fk_hello_notes_company_id_companies"),
                    nullable=False,
                    index=True,
                ),
            )


        def downgrade():
            op.drop_table("hello_notes")
    ''',
    "orbitflow_hello/templates/hello/page.jinja2": """
        {% extends "layout.jinja2" %}
        {% block title %}Hello{% endblock %}
        {% block content %}
        <h1>Hello from a plugin</h1>
        <p class="hello-count">{{ note_count }} notes in your company</p>
        {% endblock %}
    """,
    "orbitflow_hello/templates/hello/widget.jinja2": """
        <p class="hello-widget">{{ widget.context.greeting }}</p>
    """,
    "orbitflow_typo/__init__.py": '''
        """A plugin whose author misspelt a hook name."""

        from orbitflow import hookimpl
        from orbitflow.plugins import NavItem


        @hookimpl
        def nav_item(request):
            return [NavItem("Typo", "home", "dashboard.view")]
    ''',
}


def write_source(folder: Path) -> Path:
    for name, text in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return folder


def install(source: Path, target: Path) -> Path:
    """``pip install`` the distribution into ``target`` (not editable: a real wheel install)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(source)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return target
