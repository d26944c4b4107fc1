"""Tweens: security headers (and a Location a header can carry) on every response, and a cap
on request bodies."""

from __future__ import annotations

from urllib.parse import quote

from pyramid.httpexceptions import HTTPRequestEntityTooLarge

from orbitflow.config import Settings, get_settings
from orbitflow.web.body_limit import body_over_limit
from orbitflow.web.csp import SETTING as CSP_EXTRA_SETTING
from orbitflow.web.csp import Policies
from orbitflow.web.hosts import ARRIVED_SCHEME_KEY

# RFC 3986's reserved characters and "%": kept as they are in a Location header.
LOCATION_SAFE = ":/?#[]@!$&'()*+,;=%"


def security_headers_tween_factory(handler, registry):
    settings: Settings = get_settings(registry)
    # Parsed and checked once: a setting that would weaken the policy stops start-up.
    policies = Policies(settings.extra.get(CSP_EXTRA_SETTING))

    def tween(request):
        response = handler(request)
        headers = response.headers
        frame_ancestors = request.environ.get("orbitflow.frame_ancestors", "'none'")
        # A public page's scripts may add their sources (orbitflow.plugins.public_page_scripts).
        policy = policies.for_sources(request.environ.get("orbitflow.csp_sources"))
        headers.setdefault("Content-Security-Policy", policy.render(request.csp_nonce, frame_ancestors))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if frame_ancestors == "'none'":
            headers.setdefault("X-Frame-Options", "DENY")
        arrived_over = request.environ.get(ARRIVED_SCHEME_KEY, request.scheme)
        if arrived_over == "https" or settings.secure_cookies:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        location = headers.get("Location")
        if location is not None and not _is_plain_ascii(location):
            headers["Location"] = ascii_location(location)
        return response

    return tween


def _is_plain_ascii(text: str) -> bool:
    return text.isascii() and text.isprintable() and " " not in text


def ascii_location(location: str) -> str:
    """A redirect target as a header can carry it: non-ASCII characters, spaces and
    control characters percent-encoded as UTF-8 (``/。`` becomes ``/%E3%80%82``); what is
    already encoded stays as it is."""
    return quote(location, safe=LOCATION_SAFE)


def body_limit_tween_factory(handler, registry):
    limit = get_settings(registry).max_body_bytes

    def tween(request):
        if body_over_limit(request):
            raise HTTPRequestEntityTooLarge(f"The request body is too large: the limit is {limit} bytes.")
        return handler(request)

    return tween
