"""Facebook (Meta) and TikTok pixel conversion tracking for quiz funnels: browser events on
the public quiz pages and server events through the outbox, under one consent."""

from __future__ import annotations

from orbitflow import hookimpl
from orbitflow.plugins import NavItem, PermissionGrant


@hookimpl
def permissions():
    return [PermissionGrant("pixels.manage", ("OWNER", "ADMIN"), "Configure ad pixels")]


@hookimpl
def migration_locations():
    return ["orbitflow_plugins.pixels.migrations:versions"]


@hookimpl
def template_dirs():
    return ["orbitflow_plugins.pixels:templates"]


@hookimpl
def model_modules():
    return ["orbitflow_plugins.pixels.models"]


@hookimpl
def add_routes(config):
    from orbitflow_plugins.pixels.routes import includeme

    includeme(config)


@hookimpl
def settings_pages(request):
    return [NavItem("Pixels", "pixels_settings", "pixels.manage", order=27)]


@hookimpl
def delivery_channels(registry):
    from orbitflow_plugins.pixels.channel import MetaChannel, TikTokChannel

    return [MetaChannel(registry), TikTokChannel(registry)]


@hookimpl
def domain_event_in_transaction(session, name, event, registry):
    if name == "quiz_submitted":
        from orbitflow_plugins.pixels.events import on_quiz_submitted

        on_quiz_submitted(session, event)
    elif name == "lead_moved":
        from orbitflow.crypto import encryptor
        from orbitflow_plugins.pixels.events import on_lead_moved

        on_lead_moved(session, event, encryptor(registry))


@hookimpl
def public_page_scripts(request, page):
    if page.kind not in ("quiz", "quiz_thanks"):
        return []
    from orbitflow_plugins.pixels.browser import scripts_for

    return scripts_for(request, page)


@hookimpl
def public_page_tables():
    # What scripts_for reads: a quiz page's pixels change with these rows.
    return ["pixel_settings", "pixel_quiz_off"]


@hookimpl
def first_steps(request):
    from sqlalchemy import exists, or_

    from orbitflow.plugins import FirstStep
    from orbitflow_plugins.pixels.models import PixelSettings

    configured = exists().where(
        PixelSettings.company_id == request.identity.company_id,
        or_(PixelSettings.facebook_pixel_id.is_not(None), PixelSettings.tiktok_pixel_code.is_not(None)),
    )
    return [FirstStep("pixels", "Set up your ad pixels", "pixels_settings", configured, "pixels.manage", order=40)]
