"""``GET /api/health``: is the database reachable and migrated?"""

from __future__ import annotations

import logging

from alembic.script import ScriptDirectory
from pyramid.request import Request
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from orbitflow import __version__
from orbitflow.config import get_settings
from orbitflow.migrations import alembic_config, migration_state
from orbitflow.replica import Replica
from orbitflow.shared import provide, provided, shared

log = logging.getLogger(__name__)


@view_config(route_name="health", renderer="json", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
def health(request: Request):
    body = {"status": "ok", "database": "ok", "version": __version__, "migrations": "current"}
    request.response.cache_control = "no-store"
    try:
        with shared(request.registry, Engine).connect() as connection:
            connection.execute(text("SELECT 1"))
            applied = _applied_heads(connection)
    except Exception as error:
        # The class only: a driver message may name the host or the user.
        log.warning("health check: database unreachable: %s", error.__class__.__name__)
        body.update(status="error", database="unreachable", migrations="unknown")
        request.response.status_int = 503
        return body
    replica = provided(request.registry, Replica)
    if replica is not None:
        # Informational: the primary answers whenever the replica cannot.
        body["replica"] = replica.state()
    state = migration_state(shared(request.registry, ScriptDirectory), applied)
    if state != "current":
        body.update(status="error", migrations=state)
        request.response.status_int = 503
    return body


def _applied_heads(connection) -> frozenset[str]:
    try:
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    except DBAPIError as error:
        if error.connection_invalidated:
            raise
        # No alembic_version table: initializedb has not run yet.
        connection.rollback()
        return frozenset()
    return frozenset(rows)


def includeme(config) -> None:
    cfg = alembic_config(get_settings(config.registry))
    provide(config.registry, ScriptDirectory.from_config(cfg), ScriptDirectory)
    config.add_route("health", "/api/health")
    config.scan(__name__)
