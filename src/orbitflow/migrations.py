"""Alembic, configured from the app's settings and the enabled plugins' version locations."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from orbitflow.config import Settings
from orbitflow.plugins import make_plugin_manager, migration_locations

SCRIPT_LOCATION = "orbitflow.alembic:"
VERSION_TABLE = "alembic_version"


def alembic_config(settings: Settings, engine: Engine | None = None) -> Config:
    pm = make_plugin_manager(settings.plugins)
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("version_locations", " ".join(migration_locations(pm)))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["orbitflow.settings"] = settings
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def expected_heads(cfg: Config) -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())


def migration_state(script: ScriptDirectory, applied: frozenset[str]) -> str:
    """``current``, ``pending``, ``not initialized``, or ``unknown`` when the database holds
    revisions this code does not know (a newer release migrated it).

    Compares whole revision sets, not heads: Alembic stores only the plugin's head when a
    plugin branch ``depends_on`` the core's revision, so the core's head is implied.
    """
    if not applied:
        return "not initialized"
    done: set[str] = set()
    try:
        # One revision at a time: a set that names a plugin's revision beside the core one it
        # depends on (the script's own heads) overlaps, and Alembic refuses to walk it whole.
        for applied_revision in applied:
            done |= {revision.revision for revision in script.iterate_revisions(applied_revision, "base")}
    except RevisionError:
        return "unknown"
    wanted = {revision.revision for revision in script.walk_revisions()}
    return "current" if wanted <= done else "pending"


def current_heads(connection: Connection) -> frozenset[str]:
    """The revisions stored in ``alembic_version`` (empty for a new database)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return frozenset()
    return frozenset(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def upgrade_to_heads(cfg: Config) -> None:
    command.upgrade(cfg, "heads")
