"""Alembic environment for the core and every enabled plugin's branch.

Run through ``initializedb`` (which passes the engine and settings), or from a checkout
with ``alembic -c development.ini upgrade heads``.
"""

from __future__ import annotations

from sqlalchemy import pool

from alembic import context
from orbitflow.config import load_settings
from orbitflow.db import make_engine
from orbitflow.models.meta import Base
from orbitflow.plugins import import_model_modules, make_plugin_manager

config = context.config


def _settings():
    settings = config.attributes.get("orbitflow.settings")
    if settings is None:
        # Invoked by the alembic command: read the app section of the same INI file.
        settings = load_settings(config.get_section("app:main", {}))
    return settings


settings = _settings()
# Migrations that encrypt or decrypt stored values read ENCRYPTION_KEY from here.
config.attributes["orbitflow.settings"] = settings
import_model_modules(make_plugin_manager(settings.plugins))
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=settings.database.url.render_as_string(hide_password=False),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or make_engine(settings.database, poolclass=pool.NullPool)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode changes a table on SQLite by copying it, dropping the old one and
            # renaming the copy; with foreign keys on, that drop deletes (or nulls) every
            # row that refers to the table. SQLite ignores the pragma inside a transaction,
            # so it is set before the migrations' transaction begins.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=True,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                # The connection goes back to the pool the app uses: with foreign keys on,
                # or not at all.
                try:
                    connection.rollback()
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()
                except Exception:
                    connection.invalidate()
                    raise


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
