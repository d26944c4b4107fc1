"""Fixtures of the analytics tests."""

from __future__ import annotations

from datetime import datetime

import pytest

from analyticskit import Kit


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def kit(db, wsgi_app):
    kit = Kit(db, wsgi_app)
    yield kit
    kit.flush()


@pytest.fixture
def company(make_company):
    return make_company(name="Berlin Leads", time_zone="Europe/Berlin")


@pytest.fixture
def owner(company, make_user):
    return make_user(company, "OWNER", username="olga", name="Olga Owner")


@pytest.fixture
def agent(company, make_user):
    return make_user(company, "AGENT", username="anna", name="Anna Agent")


@pytest.fixture
def team(kit, company, owner, agent):
    """Leads of November (Berlin, UTC+1) and the first line a person wrote on each."""
    cpc = {"source": "facebook", "medium": "cpc", "campaign": "bf"}
    mine = {"owner_id": owner.id}
    video_utm = cpc | {"content": "video"}
    video = kit.lead(company, utc("2026-11-10 09:00"), name="Video click", value="300", **mine, utm=video_utm)
    kit.note(video, owner, utc("2026-11-10 10:00"))  # one hour: a note alone counts
    kit.move(video, company, "Won", by=owner)  # won today, after the note
    carousel_utm = cpc | {"content": "carousel"}
    carousel = kit.lead(company, utc("2026-11-11 09:00"), name="Carousel click", **mine, utm=carousel_utm)
    kit.move(carousel, company, "Contacted", by=owner, at=utc("2026-11-11 09:30"))  # half an hour: a stage move
    kit.note(carousel, owner, utc("2026-11-11 12:00"))  # later: not the first
    social = {"source": "tiktok", "medium": "social"}
    assigned = kit.lead(company, utc("2026-11-12 09:00"), name="Only assigned", utm=social)
    kit.edit(assigned, owner, utc("2026-11-12 09:05"), owner_id=owner.id)  # an assignment is no activity
    email = {"source": "news", "medium": "email"}
    edited = kit.lead(company, utc("2026-11-13 09:00"), name="Agent edited", owner_id=agent.id, utm=email)
    kit.edit(edited, agent, utc("2026-11-13 11:00"), company_name="Acme")  # two hours: an edit
    waiting = kit.lead(company, utc("2026-11-14 09:00"), name="Waiting")
    kit.note(waiting, owner, utc("2026-11-16 09:00"))  # two days
    october = kit.lead(company, utc("2026-10-20 09:00"), name="October", **mine)
    kit.note(october, owner, utc("2026-10-20 09:01"))  # before the range
    kit.flush()
    return {"video": video, "waiting": waiting}
