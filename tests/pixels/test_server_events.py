"""Server events: a completed quiz reaches the fake Graph and TikTok servers as the
platforms document them, field by field (hashes computed here), under consent, with each
company's own token; retries on 5xx only; old events dropped; failures reach the system log."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pixelkit
import pytest
from pixelkit import (
    CHROME,
    META_PIXEL,
    META_TOKEN,
    TIKTOK_CODE,
    TIKTOK_TOKEN,
    answer_as_ad_visitor,
    pixel_deliveries,
    sha,
)
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from orbitflow.audit.models import AuditEntry
from orbitflow.crypto import Encryptor
from orbitflow.deliveries import Delivery, Outgoing, Worker, channels_of, enqueue_many
from orbitflow.models.meta import utcnow
from orbitflow.shared import shared
from orbitflow.syslog.models import SystemLogEntry
from orbitflow_plugins.pixels import payloads
from orbitflow_plugins.pixels.events import destination_of
from orbitflow_plugins.pixels.models import PixelAttribution, PixelSettings
from orbitflow_plugins.quiz.models import QuizSubmission
from quiz.quizkit import FULL_QUIZ, make_quiz
from webhooks.hookkit import Answer

FBCLID = "IwAR3xYz_AbC-123"
TTCLID = "E.C.P.tt-Click_9"
FBP = "fb.1.1733140000000.1234567890"
TTP = "2Xy-ttp-Cookie_value"


def configure(api, **extra):
    return pixelkit.configure(api, **{"test_event_code": "TEST4242", **extra})


def submission_of(db, quiz) -> QuizSubmission:
    db.expire_all()
    return db.scalars(select(QuizSubmission).where(QuizSubmission.quiz_id == quiz.id)).one()


def test_a_completed_quiz_reaches_meta_and_tiktok_as_documented(api, db, company, visitor, meta, tiktok, worker):
    configure(api)
    quiz = make_quiz(db, company)
    before = int(time.time())
    _, token, landing = answer_as_ad_visitor(
        visitor, company, quiz, cookies={"_fbp": FBP, "_ttp": TTP}, email="  Ada@Example.COM ", phone="+44 20 7946 0958"
    )
    worker.run_until_idle()
    submission = submission_of(db, quiz)
    event_id = f"evt_quiz_{quiz.id}_{submission.id}"
    landed_ms = int(token.split(".")[1]) * 1000

    [graph] = meta.received
    assert graph.path == f"/v21.0/{META_PIXEL}/events"
    body = graph.json
    assert body["access_token"] == META_TOKEN and body["test_event_code"] == "TEST4242"
    [event] = body["data"]
    assert event["event_name"] == "Lead" and event["event_id"] == event_id
    assert before - 5 <= event["event_time"] <= int(time.time()) + 5  # seconds, not ms
    assert event["action_source"] == "website"
    assert event["event_source_url"] == landing
    user = event["user_data"]
    assert user["em"] == [sha("ada@example.com")]
    assert user["ph"] == [sha("442079460958")]  # digits with the country code, no "+"
    assert user["client_ip_address"] == "203.0.113.7"
    assert user["client_user_agent"] == CHROME
    assert user["fbc"] == f"fb.1.{landed_ms}.{FBCLID}"  # the fbclid's case kept
    assert user["fbp"] == FBP

    [track] = tiktok.received
    assert track.path == "/open_api/v1.3/event/track/"
    assert track.headers["access-token"] == TIKTOK_TOKEN
    body = track.json
    assert body["event_source"] == "web" and body["event_source_id"] == TIKTOK_CODE
    assert body["test_event_code"] == "TEST4242"
    [event] = body["data"]
    assert event["event"] == "SubmitForm" and event["event_id"] == event_id
    assert before - 5 <= event["event_time"] <= int(time.time()) + 5
    assert event["user"] == {
        "email": sha("ada@example.com"),
        "phone": sha("+442079460958"),  # E.164
        "ip": "203.0.113.7",
        "user_agent": CHROME,
        "ttclid": TTCLID,
        "ttp": TTP,
    }
    assert event["page"] == {"url": landing}
    assert META_TOKEN not in json.dumps(body)

    attribution = db.scalars(select(PixelAttribution)).one()
    assert (attribution.lead_id, attribution.submission_id, attribution.event_id) == (
        submission.lead_id,
        submission.id,
        event_id,
    )
    assert attribution.consent is True and attribution.fbp == FBP and attribution.ttclid == TTCLID
    log = api.get("/api/v1/pixels/deliveries").json
    assert {(item["platform"], item["event_name"], item["status"], item["event_id"]) for item in log["items"]} == {
        ("meta", "Lead", "delivered", event_id),
        ("tiktok", "SubmitForm", "delivered", event_id),
    }
    assert all(item["last_status_code"] == 200 for item in log["items"])


def test_without_consent_nothing_is_sent_nor_kept(api, db, company, visitor, meta, tiktok, worker):
    configure(api)
    quiz = make_quiz(db, company, {**FULL_QUIZ, "consent_enabled": False})
    answer_as_ad_visitor(visitor, company, quiz, consent=None)
    worker.run_until_idle()
    assert pixel_deliveries(db) == [] and meta.received == [] and tiktok.received == []
    assert db.scalars(select(PixelAttribution)).all() == []
    # A company that does not require consent is told about the same visitor.
    api.put("/api/v1/pixels", {"require_consent": False})
    answer_as_ad_visitor(visitor, company, quiz, consent=None, email="grace@example.org")
    worker.run_until_idle()
    assert len(meta.received) == 1 and len(tiktok.received) == 1


def test_a_quiz_switched_off_sends_nothing(api, db, company, visitor, meta, worker):
    quiz = make_quiz(db, company)
    configure(api, disabled_quiz_ids=[quiz.id])
    answer_as_ad_visitor(visitor, company, quiz)
    worker.run_until_idle()
    assert pixel_deliveries(db) == [] and meta.received == []


def test_a_token_without_the_companys_own_pixel_sends_nothing(
    api, db, company, visitor, meta, worker, pixels_app, unchanged
):
    # Saved before a token needed its pixel: only the installation's FACEBOOK_PIXEL_ID
    # (999999999999999) would apply, and the company's token must never go with it.
    db.add(
        PixelSettings(
            company_id=company.id,
            facebook_access_token=shared(pixels_app.registry, Encryptor).encrypt(META_TOKEN),
            require_consent=True,
            meta_won_event="Purchase",
            tiktok_won_event="CompletePayment",
            consecutive_failures=0,
        )
    )
    db.commit()
    quiz = make_quiz(db, company)
    answer_as_ad_visitor(visitor, company, quiz)
    worker.run_until_idle()
    assert pixel_deliveries(db) == [] and meta.received == []
    with unchanged():
        api.post("/api/v1/pixels/test", status=409)


def _due_now(db) -> None:
    db.execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.commit()


def test_a_500_is_retried_and_a_400_is_not(api, db, company, visitor, meta, tiktok, worker):
    configure(api)
    quiz = make_quiz(db, company)
    meta.answers.append(Answer(500, b'{"error":{"message":"An unexpected error has occurred."}}'))
    tiktok.answers.append(Answer(400, b'{"code":40002,"message":"bad request"}'))
    answer_as_ad_visitor(visitor, company, quiz)
    worker.run_until_idle()
    by_channel = {row.channel: row for row in pixel_deliveries(db)}
    assert (by_channel["pixels.meta"].status, by_channel["pixels.meta"].attempts) == ("pending", 1)
    assert by_channel["pixels.meta"].last_status_code == 500
    assert (by_channel["pixels.tiktok"].status, by_channel["pixels.tiktok"].attempts) == ("failed", 1)
    _due_now(db)
    worker.run_until_idle()
    by_channel = {row.channel: row for row in pixel_deliveries(db)}
    assert (by_channel["pixels.meta"].status, by_channel["pixels.meta"].attempts) == ("delivered", 2)
    assert by_channel["pixels.tiktok"].status == "failed"
    # The same event both times, so Meta can drop a duplicate.
    assert [r.json["data"][0]["event_id"] for r in meta.received] == [by_channel["pixels.meta"].event_id] * 2
    assert len(tiktok.received) == 1
    log = {item["platform"]: item for item in api.get("/api/v1/pixels/deliveries").json["items"]}
    assert [a["status_code"] for a in log["meta"]["attempt_log"]] == [500, 200]
    assert "bad request" in log["tiktok"]["last_excerpt"]


def test_tiktok_errors_in_a_200_body_are_read(api, db, company, visitor, tiktok, worker):
    configure(api)
    quiz = make_quiz(db, company)
    tiktok.answers.append(Answer(200, b'{"code":40105,"message":"Access token is invalid"}'))
    answer_as_ad_visitor(visitor, company, quiz)
    worker.run_until_idle()
    [row] = [row for row in pixel_deliveries(db) if row.channel == "pixels.tiktok"]
    assert row.status == "failed" and "Access token is invalid" in row.last_excerpt


def test_each_companys_events_go_with_its_own_token(
    api, client_for, make_company, make_user, db, company, visitor, meta, tiktok, worker
):
    configure(api)
    other = make_company(name="Other Pixels", subscription_id="other-pixels")
    rival = client_for(make_user(other, "OWNER", username="rob"))
    rival.put(
        "/api/v1/pixels",
        {"facebook_pixel_id": "5555555555555555", "facebook_access_token": "EAAB-token-of-company-b"},
    )
    quiz_a = make_quiz(db, company)
    quiz_b = make_quiz(db, other)
    answer_as_ad_visitor(visitor, other, quiz_b, email="b@example.com")
    answer_as_ad_visitor(visitor, company, quiz_a, email="a@example.com")
    worker.run_until_idle()
    sent = {r.path: r.json for r in meta.received}
    assert set(sent) == {f"/v21.0/{META_PIXEL}/events", "/v21.0/5555555555555555/events"}
    assert sent["/v21.0/5555555555555555/events"]["access_token"] == "EAAB-token-of-company-b"
    assert sent["/v21.0/5555555555555555/events"]["data"][0]["user_data"]["em"] == [sha("b@example.com")]
    assert "test_event_code" not in sent["/v21.0/5555555555555555/events"]
    assert sent[f"/v21.0/{META_PIXEL}/events"]["access_token"] == META_TOKEN
    assert sent[f"/v21.0/{META_PIXEL}/events"]["data"][0]["user_data"]["em"] == [sha("a@example.com")]
    # Company B has no TikTok token: TikTok hears about company A only.
    [track] = tiktok.received
    assert track.headers["access-token"] == TIKTOK_TOKEN and track.json["data"][0]["user"]["email"] == sha(
        "a@example.com"
    )
    # Each company's log shows its own deliveries only.
    assert {item["event_id"] for item in rival.get("/api/v1/pixels/deliveries").json["items"]} == {
        f"evt_quiz_{quiz_b.id}_{submission_of(db, quiz_b).id}"
    }


def test_one_post_carries_a_batch_of_events(api, db, company, visitor, meta, worker):
    configure(api, tiktok_access_token=None)
    quiz = make_quiz(db, company)
    for number in range(3):
        answer_as_ad_visitor(visitor, company, quiz, email=f"visitor{number}@example.com")
    worker.run_until_idle()
    [graph] = meta.received
    assert sorted(e["user_data"]["em"][0] for e in graph.json["data"]) == sorted(
        sha(f"visitor{number}@example.com") for number in range(3)
    )
    assert {row.status for row in pixel_deliveries(db)} == {"delivered"}


def test_events_older_than_seven_days_are_not_sent(api, db, company, visitor, meta, worker):
    configure(api, tiktok_access_token=None)
    quiz = make_quiz(db, company)
    answer_as_ad_visitor(visitor, company, quiz)
    [row] = pixel_deliveries(db)
    payload = dict(row.payload)
    payload["event"] = {**payload["event"], "event_time": int(time.time()) - 7 * 24 * 3600 - 60}
    db.execute(update(Delivery).where(Delivery.id == row.id).values(payload=payload))
    db.commit()
    worker.run_until_idle()
    [row] = pixel_deliveries(db)
    assert row.status == "failed" and "older than 7 days" in row.last_excerpt
    assert meta.received == []


def test_deliveries_that_keep_failing_warn_in_the_system_log(api, db, company, visitor, meta, worker):
    configure(api, tiktok_access_token=None)
    quiz = make_quiz(db, company)
    expired = b'{"error":{"message":"Error validating access token: Session has expired","code":190}}'
    meta.answers.extend(Answer(401, expired) for _ in range(3))
    for number in range(3):
        answer_as_ad_visitor(visitor, company, quiz, email=f"v{number}@example.com")
        worker.run_until_idle()
    db.expire_all()
    [entry] = db.scalars(select(SystemLogEntry).where(SystemLogEntry.level == "WARN")).all()
    assert entry.company_id == company.id and "Meta server events" in entry.message
    assert "Session has expired" in entry.message and META_TOKEN not in entry.message


def test_send_test_event_reaches_each_platform_with_the_test_code(api, db, meta, tiktok, worker, unchanged):
    with unchanged():
        refused = api.post("/api/v1/pixels/test", status=409)
    assert "access token" in refused.json["error"]["message"]
    configure(api)
    queued = api.post("/api/v1/pixels/test", status=202).json["items"]
    assert {item["platform"] for item in queued} == {"meta", "tiktok"}
    worker.run_until_idle()
    [graph] = meta.received
    assert graph.json["test_event_code"] == "TEST4242" and graph.json["data"][0]["event_name"] == "PageView"
    [track] = tiktok.received
    assert track.json["test_event_code"] == "TEST4242"
    log = api.get("/api/v1/pixels/deliveries").json["items"]
    assert {(item["kind"], item["status"]) for item in log} == {("test", "delivered")}


@pytest.mark.parametrize("platform", ["meta", "tiktok"])
def test_batches_are_at_most_a_thousand_events(pixels_app, platform):
    from orbitflow.deliveries import channels_of

    assert channels_of(pixels_app.registry)[f"pixels.{platform}"].max_batch == 1000


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (Answer(429, b'{"error":{"message":"Too many calls"}}'), "pending"),
        (Answer(503, b"unavailable"), "pending"),
        (Answer(200, b'{"events_received":1}', delay=1.5), "pending"),  # no answer within the 1 s time-out
        (Answer(401, b'{"error":{"message":"Invalid OAuth access token"}}'), "failed"),
        (Answer(403, b'{"error":{"message":"Permissions error"}}'), "failed"),
    ],
)
def test_only_rate_limits_server_errors_and_time_outs_are_retried(
    api, db, company, visitor, meta, worker, answer, status
):
    configure(api, tiktok_access_token=None)
    quiz = make_quiz(db, company)
    meta.answers.append(answer)
    answer_as_ad_visitor(visitor, company, quiz)
    worker.run_until_idle()
    [row] = pixel_deliveries(db)
    assert (row.status, row.attempts) == (status, 1)


def test_the_test_event_is_audited(api, db, company):
    configure(api)
    queued = api.post("/api/v1/pixels/test", status=202).json["items"]
    db.expire_all()
    [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "pixels.test")).all()
    assert entry.company_id == company.id and entry.actor_name == "olga"
    assert sorted(entry.changes["event_ids"]) == sorted(item["event_id"] for item in queued)


def test_a_thousand_and_one_events_go_in_two_posts_of_1000_and_1(api, db, company, meta, pixels_app):
    configure(api, tiktok_access_token=None)
    now = int(time.time())
    seen = {"ip": "203.0.113.7", "user_agent": CHROME, "page_url": "http://localhost/q/x"}
    enqueue_many(
        db,
        [
            Outgoing(
                company.id,
                "pixels.meta",
                destination_of(company.id),
                {
                    "kind": "lead",
                    "event": payloads.meta_event(
                        event_name="Lead",
                        event_id=f"evt_many_{number}",
                        event_time=now,
                        attribution=seen,
                        email=f"v{number}@example.com",
                        phone=None,
                    ),
                },
                f"evt_many_{number}",
            )
            for number in range(1001)
        ],
    )
    db.commit()
    # A worker that claims them all in one cycle: the channel splits them.
    registry = pixels_app.registry
    Worker(shared(registry, sessionmaker), channels_of(registry), batch_size=2000).run_until_idle()
    assert sorted(len(request.json["data"]) for request in meta.received) == [1, 1000]
    assert {event["event_id"] for request in meta.received for event in request.json["data"]} == {
        f"evt_many_{number}" for number in range(1001)
    }
    assert {row.status for row in pixel_deliveries(db)} == {"delivered"}


def test_the_delivery_log_page_shows_sent_retrying_and_failed_with_the_answers(
    api, db, company, visitor, meta, tiktok, worker
):
    configure(api)
    quiz = make_quiz(db, company)
    tiktok.answers.append(Answer(400, b'{"code":40002,"message":"Invalid pixel code"}'))
    answer_as_ad_visitor(visitor, company, quiz, email="first@example.com")
    worker.run_until_idle()
    meta.answers.append(Answer(503, b'{"error":{"message":"Service temporarily unavailable"}}'))
    answer_as_ad_visitor(visitor, company, quiz, email="second@example.com")
    worker.run_until_idle()
    page = api.client.get("/settings/pixels")
    rows = {}
    for row in page.html.select("#pixel-deliveries tbody tr"):
        cells = [cell.get_text(" ", strip=True) for cell in row.find_all("td")]
        rows[(cells[0], cells[2])] = cells
    first, second = (f"evt_quiz_{quiz.id}_{sub.id}" for sub in _submissions(db, quiz))
    assert rows[("Meta", first)][1] == "Lead" and rows[("Meta", first)][3] == "sent"
    assert rows[("Meta", first)][5].startswith("200")
    assert rows[("TikTok", first)][3] == "failed"
    assert rows[("TikTok", first)][5].startswith("400") and "Invalid pixel code" in rows[("TikTok", first)][5]
    assert rows[("Meta", second)][3] == "retrying" and rows[("Meta", second)][4] == "1"
    assert rows[("Meta", second)][5].startswith("503")
    assert "Service temporarily unavailable" in rows[("Meta", second)][5]
    assert rows[("TikTok", second)][3] == "sent" and rows[("TikTok", second)][1] == "SubmitForm"


def _submissions(db, quiz) -> list[QuizSubmission]:
    db.expire_all()
    return list(db.scalars(select(QuizSubmission).where(QuizSubmission.quiz_id == quiz.id).order_by(QuizSubmission.id)))


def test_the_system_log_warning_comes_once_per_six_hours_not_at_every_failure(api, db, company, visitor, meta, worker):
    configure(api, tiktok_access_token=None)
    quiz = make_quiz(db, company)
    expired = b'{"error":{"message":"Error validating access token: Session has expired","code":190}}'

    def fail(times: int) -> None:
        meta.answers.extend(Answer(401, expired) for _ in range(times))
        for _ in range(times):
            answer_as_ad_visitor(visitor, company, quiz, email=f"v{len(meta.received)}@example.com")
            worker.run_until_idle()

    def warnings() -> list[SystemLogEntry]:
        db.expire_all()
        return list(db.scalars(select(SystemLogEntry).where(SystemLogEntry.level == "WARN")))

    fail(3)
    assert len(warnings()) == 1
    fail(4)  # still failing, within six hours: no second warning
    assert len(warnings()) == 1
    assert db.scalars(select(PixelSettings.consecutive_failures)).one() == 7
    # Six hours later the next failure warns again.
    db.execute(update(PixelSettings).values(failure_warned_at=utcnow() - timedelta(hours=6, minutes=1)))
    db.commit()
    fail(1)
    [_, again] = warnings()
    assert "8 in a row" in again.message
    # A delivered event starts the count again.
    answer_as_ad_visitor(visitor, company, quiz, email="ok@example.com")
    worker.run_until_idle()
    assert db.scalars(select(PixelSettings.consecutive_failures)).one() == 0
