"""Closing the loop: a quiz lead's first arrival in a won stage is reported to Meta
(Purchase, action_source system_generated, value and currency) and TikTok
(CompletePayment) once per lead, even when it leaves the won stage and comes back."""

from __future__ import annotations

import webtest
from cryptography.fernet import Fernet
from pixelkit import (
    META_TOKEN,
    TIKTOK_TOKEN,
    answer_as_ad_visitor,
    configure,
    pixel_deliveries,
    sha,
)
from sqlalchemy import select

from orbitflow.leads.models import Lead, Stage
from orbitflow_plugins.pixels.models import PixelAttribution
from quiz.quizkit import FULL_QUIZ, make_quiz
from support import login
from webhooks.hookkit import Api


def stage_of_kind(db, company, kind: str) -> Stage:
    return db.scalars(
        select(Stage).where(Stage.company_id == company.id, Stage.kind == kind).order_by(Stage.id)
    ).first()


def move(api, lead_id: int, stage: Stage) -> dict:
    lead = api.get(f"/api/v1/leads/{lead_id}").json
    return api.post(
        f"/api/v1/leads/{lead_id}/move", {"stage_id": stage.id, "position": 0, "version": lead["version"]}
    ).json


def quiz_lead(db, company) -> Lead:
    db.expire_all()
    return db.scalars(select(Lead).where(Lead.company_id == company.id, Lead.source == "quiz")).one()


def test_a_won_quiz_lead_is_reported_once(api, db, company, visitor, meta, tiktok, worker):
    configure(api)
    company.currency = "EUR"
    db.commit()
    quiz = make_quiz(db, company)
    answer_as_ad_visitor(visitor, company, quiz, email="Buyer@Example.com", phone="+1 415 555 0123")
    worker.run_until_idle()
    meta.reset()
    tiktok.reset()
    lead = quiz_lead(db, company)
    version = api.get(f"/api/v1/leads/{lead.id}").json["version"]
    api.patch(f"/api/v1/leads/{lead.id}", {"value": 1250.5, "version": version})
    won, first_open = stage_of_kind(db, company, "won"), stage_of_kind(db, company, "open")

    move(api, lead.id, won)
    worker.run_until_idle()
    [graph] = meta.received
    [event] = graph.json["data"]
    assert event["event_name"] == "Purchase" and event["event_id"] == f"won_lead_{lead.id}"
    assert event["action_source"] == "system_generated"
    assert event["custom_data"]["value"] == 1250.5 and event["custom_data"]["currency"] == "EUR"
    assert event["user_data"]["em"] == [sha("buyer@example.com")]
    assert event["user_data"]["ph"] == [sha("14155550123")]
    # Matched to the ad click of the submission.
    assert event["user_data"]["fbc"].endswith(".IwAR3xYz_AbC-123")
    [track] = tiktok.received
    [event] = track.json["data"]
    assert event["event"] == "CompletePayment" and event["event_id"] == f"won_lead_{lead.id}"
    assert event["properties"] == {"value": 1250.5, "currency": "EUR"}
    assert event["user"]["phone"] == sha("+14155550123")

    # Out of the won stage and back: nothing new.
    move(api, lead.id, first_open)
    move(api, lead.id, won)
    worker.run_until_idle()
    assert len(meta.received) == 1 and len(tiktok.received) == 1
    won_rows = [row for row in pixel_deliveries(db) if row.payload["kind"] == "won"]
    assert len(won_rows) == 2  # one per platform


def test_the_won_event_names_are_configurable(api, db, company, visitor, meta, tiktok, worker):
    configure(api, meta_won_event="QualifiedDeal", tiktok_won_event="PlaceAnOrder")
    quiz = make_quiz(db, company)
    answer_as_ad_visitor(visitor, company, quiz)
    lead = quiz_lead(db, company)
    move(api, lead.id, stage_of_kind(db, company, "won"))
    worker.run_until_idle()
    # The submission's event and the won one may travel in one batch.
    assert {e["event_name"] for r in meta.received for e in r.json["data"]} == {"Lead", "QualifiedDeal"}
    assert {e["event"] for r in tiktok.received for e in r.json["data"]} == {"SubmitForm", "PlaceAnOrder"}


def test_leads_without_a_consented_quiz_submission_are_not_reported(api, db, company, visitor, meta, worker):
    configure(api)
    manual = api.post("/api/v1/leads", {"name": "Walk-in", "email": "walkin@example.com"}, status=201).json
    quiz = make_quiz(db, company, {**FULL_QUIZ, "consent_enabled": False})
    answer_as_ad_visitor(visitor, company, quiz, consent=None, email="noconsent@example.com")
    won = stage_of_kind(db, company, "won")
    move(api, manual["id"], won)
    move(api, quiz_lead(db, company).id, won)
    worker.run_until_idle()
    assert pixel_deliveries(db) == [] and meta.received == []


def submitted_and_sent(api, db, company, visitor, meta, tiktok, worker) -> None:
    """Company A's pixels configured and a quiz answered by an ad visitor, its Lead and
    SubmitForm events sent and forgotten by the fake platforms."""
    configure(api)
    answer_as_ad_visitor(visitor, company, make_quiz(db, company))
    worker.run_until_idle()
    meta.reset()
    tiktok.reset()


def test_a_win_while_no_token_is_set_is_reported_at_the_next_win_once(api, db, company, visitor, meta, tiktok, worker):
    submitted_and_sent(api, db, company, visitor, meta, tiktok, worker)
    # The tokens removed (the pixels stay): the win cannot be sent.
    api.put("/api/v1/pixels", {"facebook_access_token": None, "tiktok_access_token": None})
    lead = quiz_lead(db, company)
    won, first_open = stage_of_kind(db, company, "won"), stage_of_kind(db, company, "open")
    move(api, lead.id, won)
    worker.run_until_idle()
    assert [row for row in pixel_deliveries(db) if row.payload["kind"] == "won"] == []
    assert db.scalars(select(PixelAttribution.won_reported_at)).one() is None
    # A token again, and the lead won again: reported now, and only this once.
    api.put("/api/v1/pixels", {"facebook_access_token": META_TOKEN})
    move(api, lead.id, first_open)
    move(api, lead.id, won)
    move(api, lead.id, first_open)
    move(api, lead.id, won)
    worker.run_until_idle()
    [graph] = meta.received
    assert [e["event_name"] for e in graph.json["data"]] == ["Purchase"]
    assert tiktok.received == []
    assert [row.channel for row in pixel_deliveries(db) if row.payload["kind"] == "won"] == ["pixels.meta"]


def test_a_win_while_the_tokens_cannot_be_read_is_reported_once_they_are_entered_again(
    api, db, company, owner, visitor, meta, tiktok, worker, app_with_keys
):
    submitted_and_sent(api, db, company, visitor, meta, tiktok, worker)
    # ENCRYPTION_KEY replaced without the tokens' key: the win cannot be sent.
    lost = webtest.TestApp(app_with_keys(Fernet.generate_key().decode()), extra_environ=api.client.extra_environ)
    login(lost, owner)
    owner_api = Api(lost)
    lead = quiz_lead(db, company)
    won, first_open = stage_of_kind(db, company, "won"), stage_of_kind(db, company, "open")
    move(owner_api, lead.id, won)
    assert [row for row in pixel_deliveries(db) if row.payload["kind"] == "won"] == []
    assert db.scalars(select(PixelAttribution.won_reported_at)).one() is None
    # The tokens entered again, and the lead won again: reported now, and only this once.
    lost.put_json(
        "/api/v1/pixels",
        {"facebook_access_token": META_TOKEN, "tiktok_access_token": TIKTOK_TOKEN},
        headers=owner_api._headers(),
    )
    for stage in (first_open, won, first_open, won):
        move(owner_api, lead.id, stage)
    won_rows = [row for row in pixel_deliveries(db) if row.payload["kind"] == "won"]
    assert sorted(row.channel for row in won_rows) == ["pixels.meta", "pixels.tiktok"]
    assert db.scalars(select(PixelAttribution.won_reported_at)).one() is not None
