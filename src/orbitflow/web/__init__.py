"""The web shell: templates, static files, flash messages, security headers and errors."""

from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache

from pluggy import PluginManager
from pyramid.path import AssetResolver
from pyramid.request import Request
from pyramid.session import BaseCookieSessionFactory, JSONSerializer
from pyramid.static import QueryStringCacheBuster
from pyramid.tweens import EXCVIEW, INGRESS

from orbitflow.config import Settings, get_settings
from orbitflow.plugins import collect
from orbitflow.shared import shared
from orbitflow.signing import RotatingSerializer
from orbitflow.web.dates import format_datetime, format_money
from orbitflow.wording import plural


class ContentHashCacheBuster(QueryStringCacheBuster):
    """Adds ``?x=<hash of the file>`` so a changed file gets a new URL."""

    def __init__(self) -> None:
        super().__init__(param="x")

    def tokenize(self, request, subpath, kw) -> str:
        return _file_hash(kw.get("rawspec") or kw.get("pathspec") or subpath)


@lru_cache(maxsize=512)
def _file_hash(pathspec: str) -> str:
    try:
        with AssetResolver().resolve(pathspec).stream() as stream:
            return hashlib.sha256(stream.read()).hexdigest()[:12]
    except OSError:
        return "0"


def client_ip(request: Request) -> str:
    """The visitor's address; X-Forwarded-For counts only behind a trusted proxy."""
    settings: Settings = get_settings(request.registry)
    if settings.trust_host:
        forwarded = request.headers.get("X-Forwarded-For", "")
        # The proxy appends the address it saw; the left-most is the original client.
        first = forwarded.split(",")[0].strip()
        if first:
            return first[:64]
    return (request.remote_addr or "unknown")[:64]


def csp_nonce(request: Request) -> str:
    return secrets.token_urlsafe(16)


def is_api_request(request: Request) -> bool:
    return request.path_info.startswith("/api/")


def includeme(config) -> None:
    settings: Settings = get_settings(config.registry)
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".jinja2")
    search_path = ["orbitflow:web/templates", *collect(shared(config.registry, PluginManager), "template_dirs")]
    config.add_jinja2_search_path(search_path, name=".jinja2")
    # The renderer and search path are deferred actions: commit so the environment exists.
    config.commit()
    env = config.get_jinja2_environment(".jinja2")
    env.autoescape = True
    env.filters["datetime"] = format_datetime
    env.filters["money"] = format_money
    env.filters["plural"] = plural

    config.set_session_factory(
        BaseCookieSessionFactory(
            RotatingSerializer(settings.auth_secrets, "orbitflow.flash", serializer=JSONSerializer()),
            cookie_name="orbitflow_flash",
            secure=settings.secure_cookies,
            httponly=True,
            samesite="Lax",
        )
    )
    config.add_request_method(client_ip, "client_ip", reify=True)
    config.add_request_method(csp_nonce, "csp_nonce", reify=True)
    config.add_request_method(is_api_request, "is_api", reify=True)
    config.add_static_view("static", "orbitflow:web/static", cache_max_age=31536000)
    config.add_cache_buster("orbitflow:web/static/", ContentHashCacheBuster())
    config.add_request_method("orbitflow.web.requestid.request_id", "request_id", reify=True)
    config.add_tween("orbitflow.web.requestid.request_id_tween_factory", under=INGRESS)
    config.add_tween("orbitflow.web.tweens.security_headers_tween_factory", over=EXCVIEW)
    config.add_tween("orbitflow.web.tweens.body_limit_tween_factory", under=EXCVIEW)
    config.add_tween("orbitflow.web.hosts.public_origin_tween_factory", under=EXCVIEW)
    config.add_subscriber("orbitflow.web.methods.refuse_unusual_methods", "pyramid.events.ContextFound")
    config.add_subscriber("orbitflow.web.layout.add_layout_globals", "pyramid.events.BeforeRender")
    config.include(".errors")
    config.include(".decoding")
    config.include(".favicon")
