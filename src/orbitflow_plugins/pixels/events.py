"""From domain events to server events in the outbox, inside the change's transaction.

A completed quiz whose visitor allowed tracking (consent given, or not required) keeps
its attribution row and queues Meta ``Lead`` / TikTok ``SubmitForm``; its lead's first
arrival in a won stage while a token is set queues the configured won events
(``Purchase`` / ``CompletePayment``) once, ever. Only a pixel the company set itself, with its access
token, gets server events.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orbitflow.crypto import Encryptor
from orbitflow.deliveries import enqueue
from orbitflow.events import LeadEvent, QuizEvent
from orbitflow.leads.models import Lead, Stage
from orbitflow.models.meta import utcnow
from orbitflow.tenants.models import Company
from orbitflow_plugins.pixels import payloads
from orbitflow_plugins.pixels.models import PixelAttribution, PixelSettings
from orbitflow_plugins.pixels.settings import (
    ServerEvents,
    quiz_enabled,
    server_events,
    settings_row,
    usable_server_events,
)

META_CHANNEL = "pixels.meta"
TIKTOK_CHANNEL = "pixels.tiktok"
CHANNELS = (META_CHANNEL, TIKTOK_CHANNEL)


def destination_of(company_id: int) -> str:
    """One destination per company: a batch never mixes two companies' events, and the
    channel sends each with that company's own token."""
    return f"company:{company_id}"


def company_of_destination(destination: str) -> int | None:
    prefix, _, number = destination.partition(":")
    return int(number) if prefix == "company" and number.isdigit() else None


def lead_event_id(quiz_id: int, submission_id: int) -> str:
    """The id the browser's Lead / SubmitForm and the server's share (the platforms
    deduplicate on it); the thanks page computes the same from its submission."""
    return f"evt_quiz_{quiz_id}_{submission_id}"


def won_event_id(lead_id: int) -> str:
    return f"won_lead_{lead_id}"


def tracking_allowed(row: PixelSettings | ServerEvents | None, consent: bool) -> bool:
    return consent or (row is not None and not row.require_consent)


def _trimmed(value: Any, limit: int) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text[:limit] or None


def attribution_from(event: QuizEvent, event_id: str) -> PixelAttribution:
    visitor = event.data.get("visitor") or {}
    cookies = visitor.get("cookies") or {}
    click_ids = visitor.get("click_ids") or {}
    landed_ms = int(visitor.get("landed_at") or 0) * 1000
    fbc = _trimmed(cookies.get("_fbc"), 600) or payloads.fbc_from_click(
        _trimmed(click_ids.get("fbclid"), 500), landed_ms
    )
    return PixelAttribution(
        company_id=event.company_id,
        quiz_id=event.quiz_id,
        submission_id=event.submission_id,
        lead_id=event.lead_id,
        event_id=event_id,
        consent=bool(event.data.get("consent")),
        fbc=fbc,
        fbp=_trimmed(cookies.get("_fbp"), 200),
        ttp=_trimmed(cookies.get("_ttp"), 200),
        ttclid=_trimmed(click_ids.get("ttclid"), 500),
        ip=_trimmed(visitor.get("ip"), 45),
        user_agent=_trimmed(visitor.get("user_agent"), 500),
        page_url=_trimmed(visitor.get("page_url"), 2000),
        created_at=utcnow(),
    )


def attribution_dict(row: PixelAttribution) -> dict[str, Any]:
    return {
        "ip": row.ip,
        "user_agent": row.user_agent,
        "fbc": row.fbc,
        "fbp": row.fbp,
        "ttp": row.ttp,
        "ttclid": row.ttclid,
        "page_url": row.page_url,
    }


def _enqueue(session: Session, company_id: int, channel: str, event_id: str, event: dict[str, Any], kind: str) -> None:
    enqueue(
        session,
        company_id=company_id,
        channel=channel,
        destination=destination_of(company_id),
        payload={"kind": kind, "event": event},
        event_id=event_id,
    )


def on_quiz_submitted(session: Session, event: QuizEvent) -> None:
    if event.submission_id is None or event.lead_id is None:
        return
    row = server_events(session, event.company_id)
    if row is None:
        return
    if not tracking_allowed(row, bool(event.data.get("consent"))):
        return
    if not quiz_enabled(session, event.company_id, event.quiz_id):
        return
    lead = session.get(Lead, event.lead_id)
    if lead is None:
        return
    event_id = lead_event_id(event.quiz_id, event.submission_id)
    attribution = attribution_from(event, event_id)
    session.add(attribution)
    session.flush()
    seen = attribution_dict(attribution)
    when = payloads.epoch_seconds(attribution.created_at)
    contact = event.data.get("contact") or {}
    email = contact.get("email") or lead.email
    phone = lead.phone
    if row.facebook:
        _enqueue(
            session,
            event.company_id,
            META_CHANNEL,
            event_id,
            payloads.meta_event(
                event_name=payloads.META_LEAD,
                event_id=event_id,
                event_time=when,
                attribution=seen,
                email=email,
                phone=phone,
            ),
            "lead",
        )
    if row.tiktok:
        _enqueue(
            session,
            event.company_id,
            TIKTOK_CHANNEL,
            event_id,
            payloads.tiktok_event(
                event_name=payloads.TIKTOK_LEAD,
                event_id=event_id,
                event_time=when,
                attribution=seen,
                email=email,
                phone=phone,
            ),
            "lead",
        )


def on_lead_moved(session: Session, event: LeadEvent, tokens: Encryptor) -> None:
    if event.stage_id is None or event.stage_id == event.previous_stage_id:
        return
    stage = session.get(Stage, event.stage_id)
    if stage is None or stage.kind != "won":
        return
    # The lead's quiz attributions, oldest first, locked: two moves of one lead into a
    # won stage at once report it once.
    rows = list(
        session.scalars(
            select(PixelAttribution)
            .where(PixelAttribution.company_id == event.company_id, PixelAttribution.lead_id == event.lead_id)
            .order_by(PixelAttribution.id)
            .with_for_update()
        )
    )
    if not rows or any(row.won_reported_at is not None for row in rows):
        return
    settings = settings_row(session, event.company_id)
    targets = usable_server_events(settings, tokens)
    if settings is None or targets is None:
        # Nothing can be sent now: the win stays unreported, and is reported when the lead
        # reaches a won stage again once a token is set.
        return
    first = rows[0]
    # Under the consent given at submission, as it stands with today's settings.
    if not tracking_allowed(targets, first.consent):
        return
    lead = session.get(Lead, event.lead_id)
    company = session.get(Company, event.company_id)
    if lead is None or company is None:
        return
    first.won_reported_at = utcnow()
    event_id = won_event_id(lead.id)
    when = payloads.epoch_seconds(first.won_reported_at)
    seen = attribution_dict(first)
    if targets.facebook:
        _enqueue(
            session,
            event.company_id,
            META_CHANNEL,
            event_id,
            payloads.meta_event(
                event_name=settings.meta_won_event,
                event_id=event_id,
                event_time=when,
                attribution=seen,
                email=lead.email,
                phone=lead.phone,
                action_source="system_generated",
                custom_data=payloads.won_custom_data(lead.value, company.currency),
            ),
            "won",
        )
    if targets.tiktok:
        _enqueue(
            session,
            event.company_id,
            TIKTOK_CHANNEL,
            event_id,
            payloads.tiktok_event(
                event_name=settings.tiktok_won_event,
                event_id=event_id,
                event_time=when,
                attribution=seen,
                email=lead.email,
                phone=lead.phone,
                properties=payloads.won_properties(lead.value, company.currency),
            ),
            "won",
        )
    session.flush()
