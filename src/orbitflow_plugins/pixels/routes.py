"""The pixels plugin's routes and its static script."""

from __future__ import annotations

from orbitflow.web import ContentHashCacheBuster


def includeme(config) -> None:
    config.add_static_view("pixels-static", "orbitflow_plugins.pixels:static", cache_max_age=31536000)
    config.add_cache_buster("orbitflow_plugins.pixels:static/", ContentHashCacheBuster())
    config.add_route("pixels_settings", "/settings/pixels")
    config.add_route("pixels_test", "/settings/pixels/test")
    config.add_route("api_pixels", "/api/v1/pixels")
    config.add_route("api_pixels_test", "/api/v1/pixels/test")
    config.add_route("api_pixels_deliveries", "/api/v1/pixels/deliveries")
    for module in ("api", "views"):
        config.scan(f"orbitflow_plugins.pixels.{module}")
