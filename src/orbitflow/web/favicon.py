"""``/favicon.ico``, which browsers ask for on every site whatever the page links."""

from __future__ import annotations

from importlib.resources import files

from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

ICON = files("orbitflow").joinpath("web/static/img/favicon.ico").read_bytes()


@view_config(route_name="favicon", request_method="GET", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
def favicon(request: Request) -> Response:
    response = Response(ICON, content_type="image/x-icon")
    response.cache_control = "public, max-age=86400"
    return response


def includeme(config) -> None:
    config.add_route("favicon", "/favicon.ico")
    config.scan(__name__)
