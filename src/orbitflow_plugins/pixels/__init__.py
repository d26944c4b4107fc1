"""Facebook and TikTok pixel conversion tracking for quiz funnels."""

from __future__ import annotations

from orbitflow import hookimpl
from orbitflow.plugins import PermissionGrant


@hookimpl
def permissions():
    return [PermissionGrant("pixels.manage", ("OWNER", "ADMIN"), "Configure ad pixels")]


@hookimpl
def migration_locations():
    return ["orbitflow_plugins.pixels.migrations:versions"]


@hookimpl
def template_dirs():
    return ["orbitflow_plugins.pixels:templates"]
