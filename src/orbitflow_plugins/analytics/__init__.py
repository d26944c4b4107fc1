"""The analytics dashboard: which quiz and which campaign brings customers."""

from __future__ import annotations

from orbitflow import hookimpl
from orbitflow.plugins import PermissionGrant


@hookimpl
def permissions():
    return [PermissionGrant("analytics.view", ("OWNER", "ADMIN", "MANAGER"), "Open the analytics dashboard")]


@hookimpl
def migration_locations():
    return ["orbitflow_plugins.analytics.migrations:versions"]


@hookimpl
def template_dirs():
    return ["orbitflow_plugins.analytics:templates"]
