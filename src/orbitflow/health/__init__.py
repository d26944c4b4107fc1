"""``GET /api/health``: is the database reachable and migrated?"""

from __future__ import annotations

import logging

from pyramid.request import Request
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from orbitflow import __version__
from orbitflow.migrations import alembic_config, expected_heads

log = logging.getLogger(__name__)


@view_config(route_name="health", renderer="json", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
def health(request: Request):
    body = {"status": "ok", "database": "ok", "version": __version__, "migrations": "current"}
    try:
        with request.registry["dbengine"].connect() as connection:
            connection.execute(text("SELECT 1"))
            applied = _applied_heads(connection)
    except Exception as error:
        log.warning("health check: database unreachable: %s", error.__class__.__name__)
        body.update(status="error", database="unreachable", migrations="unknown")
        request.response.status_int = 503
        return body
    if applied != request.registry["expected_migration_heads"]:
        body.update(status="error", migrations="pending" if applied else "not initialized")
        request.response.status_int = 503
    request.response.cache_control = "no-store"
    return body


def _applied_heads(connection) -> frozenset[str]:
    try:
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    except DBAPIError:
        # No alembic_version table: initializedb has not run yet.
        connection.rollback()
        return frozenset()
    return frozenset(rows)


def includeme(config) -> None:
    cfg = alembic_config(config.registry["orbitflow.settings"])
    config.registry["expected_migration_heads"] = expected_heads(cfg)
    config.add_route("health", "/api/health")
    config.scan(__name__)
