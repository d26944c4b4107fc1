"""The "send test event" button: a PageView (Meta) or ViewContent (TikTok) to each platform
the company set a pixel and token for, through the outbox like every other event (with
the test event code, when set, so it shows in the platforms' Test Events tabs)."""

from __future__ import annotations

import time

from pyramid.request import Request
from sqlalchemy import select

from orbitflow.deliveries import Delivery, Outgoing, enqueue_many
from orbitflow.events import new_event_id
from orbitflow_plugins.pixels import payloads
from orbitflow_plugins.pixels.events import META_CHANNEL, TIKTOK_CHANNEL, destination_of
from orbitflow_plugins.pixels.settings import settings_row


def send_test_events(request: Request) -> list[Delivery]:
    """Enqueue the test events and answer their deliveries (none without a token)."""
    company_id = request.identity.company_id
    row = settings_row(request.dbsession, company_id)
    if row is None:
        return []
    seen = {
        "ip": request.client_ip,
        "user_agent": request.user_agent or "OrbitFlow test event",
        "page_url": request.route_url("pixels_settings"),
    }
    now = int(time.time())
    outgoing = []
    for channel, sends, build in (
        (META_CHANNEL, row.meta_server_events, payloads.meta_event),
        (TIKTOK_CHANNEL, row.tiktok_server_events, payloads.tiktok_event),
    ):
        if not sends:
            continue
        event_id = new_event_id()
        event = build(
            event_name="PageView" if channel == META_CHANNEL else "ViewContent",
            event_id=event_id,
            event_time=now,
            attribution=seen,
            email=None,
            phone=None,
        )
        outgoing.append(
            Outgoing(company_id, channel, destination_of(company_id), {"kind": "test", "event": event}, event_id)
        )
    if not outgoing:
        return []
    enqueue_many(request.dbsession, outgoing)
    return list(
        request.dbsession.scalars(
            select(Delivery)
            .where(
                Delivery.destination == destination_of(company_id),
                Delivery.event_id.in_([item.event_id for item in outgoing]),
            )
            .order_by(Delivery.id)
        )
    )
