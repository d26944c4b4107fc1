"""Application assembly: the order in which the core and the plugins are included."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pluggy import PluginManager
from pyramid.config import Configurator
from sqlalchemy.engine import Engine
from sqlalchemy.orm import configure_mappers

from orbitflow.config import load_settings
from orbitflow.shared import provide, shared

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
    "orbitflow.webhooks",
    "orbitflow.mail",
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
        provide(config.registry, settings)
        if engine is not None:
            provide(config.registry, engine, Engine)
        config.include("orbitflow.plugins")
        config.include("orbitflow.db")
        config.include("orbitflow.security")
        config.include("orbitflow.crypto")
        config.include("orbitflow.ratelimit")
        config.include("orbitflow.metrics")
        for package in CORE_PACKAGES:
            config.include(package)
        shared(config.registry, PluginManager).hook.add_routes(config=config)
        for include in includes:
            config.include(include)
        configure_mappers()
    return config.make_wsgi_app()
