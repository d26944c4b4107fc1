"""The pixels on public quiz pages: which script, with which settings, and the vendors'
hosts that page's Content-Security-Policy allows (and no other page's)."""

from __future__ import annotations

from pyramid.request import Request

from orbitflow.db import unscoped
from orbitflow.plugins import PageScript, PublicPage
from orbitflow_plugins.pixels.channel import defaults_of
from orbitflow_plugins.pixels.events import lead_event_id, tracking_allowed
from orbitflow_plugins.pixels.settings import quiz_enabled, settings_row

META_SCRIPT_HOST = "https://connect.facebook.net"
META_EVENTS_HOST = "https://www.facebook.com"
TIKTOK_HOST = "https://analytics.tiktok.com"


def csp_for(meta: bool, tiktok: bool) -> dict[str, tuple[str, ...]]:
    scripts: tuple[str, ...] = ()
    connects: tuple[str, ...] = ()
    if meta:
        scripts += (META_SCRIPT_HOST,)
        connects += (META_EVENTS_HOST, META_SCRIPT_HOST)
    if tiktok:
        scripts += (TIKTOK_HOST,)
        connects += (TIKTOK_HOST,)
    return {"script-src": scripts, "connect-src": connects, "img-src": tuple(h for h in connects)}


def scripts_for(request: Request, page: PublicPage) -> list[PageScript]:
    if page.quiz_id is None:
        return []
    defaults = defaults_of(request.registry)
    # Both queries name the page's company themselves.
    with unscoped(request.dbsession) as session:
        row = settings_row(session, page.company_id)
        meta = (row.facebook_pixel_id if row else None) or defaults.facebook_pixel_id
        tiktok = (row.tiktok_pixel_code if row else None) or defaults.tiktok_pixel_code
        if not (meta or tiktok) or not quiz_enabled(session, page.company_id, page.quiz_id):
            return []
    require_consent = row.require_consent if row else True
    attributes = {
        "data-orbitflow-pixels": "",
        "data-page": "thanks" if page.kind == "quiz_thanks" else "quiz",
        "data-consent": "required" if require_consent else "not-required",
    }
    if meta:
        attributes["data-meta-pixel"] = meta
    if tiktok:
        attributes["data-tiktok-pixel"] = tiktok
    if page.kind == "quiz_thanks":
        # The visitor's choice was made with the form: without it, no pixel at all here.
        if not tracking_allowed(row, bool(page.data.get("consent"))):
            return []
        attributes["data-consent"] = "given"
        attributes["data-event-id"] = lead_event_id(page.quiz_id, int(page.data["submission_id"]))
    src = request.static_url("orbitflow_plugins.pixels:static/pixels.js")
    return [PageScript(src, attributes, csp_for(bool(meta), bool(tiktok)))]
