"""OrbitFlow: a self-hosted multi-tenant CRM for teams that win leads with quiz funnels."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from pluggy import HookimplMarker

hookimpl = HookimplMarker("orbitflow")

try:
    __version__ = version("orbitflow")
except PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0.0.0"


def main(global_config, **settings):
    """Build the WSGI application from the INI file's settings."""
    import sys

    from orbitflow.app import make_app
    from orbitflow.config import ConfigError

    try:
        return make_app(settings)
    except ConfigError as error:
        print(f"orbitflow: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
