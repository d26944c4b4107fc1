"""The public address: absolute URLs built from AUTH_URL, other host names refused.

Without this, every absolute URL the app builds (redirects, links in pages, e-mails)
would come from the request's ``Host`` header, which the client writes: ``Host: evil.com``
on ``/leads`` would redirect to evil.com. When AUTH_URL is set, a request is served only
when its host name is AUTH_URL's; behind a trusted proxy (AUTH_TRUST_HOST) the host the
proxy forwards (``X-Forwarded-Host``) is the one checked. Every URL is then built from
AUTH_URL's scheme, host and port. The health check and the metrics answer whatever the
host name, because load balancers and scrapers call them by an internal address.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from pyramid.httpexceptions import HTTPBadRequest

from orbitflow.config import LOCAL_HOSTS, Settings, get_settings

# The scheme the request really came over, before URLs are switched to AUTH_URL's.
ARRIVED_SCHEME_KEY = "orbitflow.arrived_scheme"
# Probed by load balancers, orchestrators and Prometheus at an internal address.
ANY_HOST_PATHS = frozenset({"/api/health", "/metrics"})


def host_name(raw: str | None) -> str | None:
    """The host name of a ``Host`` header value (without the port), lower-cased; None when malformed."""
    if not raw:
        return None
    try:
        name = urlsplit("//" + raw.strip()).hostname
    except ValueError:  # a bad [IPv6] literal
        return None
    return name.rstrip(".") if name else None


def requested_host(environ: Mapping[str, str], trust_proxy: bool) -> str | None:
    """The host name the client asked for: the proxy's X-Forwarded-Host when it is trusted."""
    if trust_proxy:
        forwarded = environ.get("HTTP_X_FORWARDED_HOST", "")
        # The nearest proxy's value is the last one; earlier ones came from the client.
        values = [value.strip() for value in forwarded.split(",") if value.strip()]
        if values:
            return host_name(values[-1])
    return host_name(environ.get("HTTP_HOST"))


class PublicOrigin:
    """AUTH_URL's scheme and address, and which request host names it accepts."""

    def __init__(self, auth_url: str):
        parts = urlsplit(auth_url)
        self.scheme = parts.scheme
        self.netloc = parts.netloc
        self.host = (parts.hostname or "").rstrip(".")

    def accepts(self, host: str | None) -> bool:
        if host is None:
            return False
        # Local development: localhost, 127.0.0.1 and ::1 are one machine.
        return host == self.host or (self.host in LOCAL_HOSTS and host in LOCAL_HOSTS)


def public_origin_tween_factory(handler, registry):
    settings: Settings = get_settings(registry)
    if not settings.auth_url_set:
        return handler
    origin = PublicOrigin(settings.auth_url)
    message = f"This server answers at {settings.auth_url} only."

    def tween(request):
        environ = request.environ
        host = requested_host(environ, settings.trust_host)
        # Set before anything else runs, so even the refusal page links to AUTH_URL.
        environ[ARRIVED_SCHEME_KEY] = environ.get("wsgi.url_scheme", "http")
        environ["wsgi.url_scheme"] = origin.scheme
        environ["HTTP_HOST"] = origin.netloc
        if origin.accepts(host) or request.path_info in ANY_HOST_PATHS:
            return handler(request)
        raise HTTPBadRequest(message)

    return tween
