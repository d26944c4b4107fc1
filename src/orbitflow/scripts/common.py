"""Shared by the console scripts: settings and engine from a PasteDeploy INI file."""

from __future__ import annotations

import logging.config
import sys
from pathlib import Path

import plaster

from orbitflow.accounts.passwords import use_password_hashing
from orbitflow.config import ConfigError, Settings, load_settings


def settings_from_uri(config_uri: str) -> Settings:
    path = config_uri.split("#", 1)[0]
    if "://" not in path and not Path(path).is_file():
        fail(f"no such configuration file: {path}")
    loader = plaster.get_loader(config_uri, protocols=["wsgi"])
    try:
        loader.setup_logging()
    except Exception:
        logging.basicConfig(level=logging.INFO)
    try:
        settings = load_settings(loader.get_settings("app:main"))
    except ConfigError as error:
        fail(f"configuration error: {error}")
    use_password_hashing(settings.password_hashing)
    return settings


def fail(message: str, code: int = 2):
    print(f"orbitflow: {message}", file=sys.stderr)
    raise SystemExit(code)


def one_line(error: BaseException) -> str:
    """The driver's own message of a database error, on one line."""
    detail = getattr(error, "orig", None) or error
    text = " ".join(str(detail).split())
    return f"{type(detail).__name__}: {text}"[:500]


def engine_from_settings(settings: Settings):
    """A small engine for a console script; a bad setting ends the script with one line."""
    from orbitflow.db import make_engine

    try:
        return (
            make_engine(settings.database)
            if settings.database.is_sqlite
            else make_engine(settings.database, pool_size=2)
        )
    except ConfigError as error:
        fail(f"configuration error: {error}")
