"""Application assembly: the order in which the core and the plugins are included."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pyramid.config import Configurator
from sqlalchemy.orm import configure_mappers

from orbitflow.config import load_settings

CORE_PACKAGES = (
    "orbitflow.web",
    "orbitflow.health",
    "orbitflow.accounts",
    "orbitflow.tenants",
    "orbitflow.audit",
    "orbitflow.syslog",
    "orbitflow.leads",
    "orbitflow.superadmin",
    "orbitflow.api",
    "orbitflow.deliveries",
)


def make_app(
    ini_settings: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
    engine=None,
    includes: Sequence[str | Callable] = (),
):
    """The WSGI application. ``engine`` replaces the one the settings describe, and
    ``includes`` are extra ``config.include`` arguments applied after the plugins (tests use
    both)."""
    settings = load_settings(ini_settings, environ)
    with Configurator(settings=dict(ini_settings)) as config:
        config.registry["orbitflow.settings"] = settings
        if engine is not None:
            config.registry["dbengine"] = engine
        config.include("orbitflow.plugins")
        config.include("orbitflow.db")
        config.include("orbitflow.security")
        config.include("orbitflow.ratelimit")
        for package in CORE_PACKAGES:
            config.include(package)
        config.registry["plugin_manager"].hook.add_routes(config=config)
        for include in includes:
            config.include(include)
        configure_mappers()
    return config.make_wsgi_app()
