"""Webhook deliveries against real receivers on 127.0.0.1: signatures verified with the
standardwebhooks library, retries, refusals, redirects, time-outs, one delivery per event."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from standardwebhooks.webhooks import Webhook as Verifier

from orbitflow.audit.models import AuditEntry
from orbitflow.deliveries import Delivery
from orbitflow.models.meta import utcnow
from orbitflow.webhooks.models import Webhook
from webhooks.hookkit import Answer, Api, deliveries


def _make_due(db) -> None:
    db.execute(
        update(Delivery).where(Delivery.status == "pending").values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.commit()


def _new_lead(api: Api, name="Signed Lead", **fields) -> dict:
    return api.post("/api/v1/leads", {"name": name, "email": "signed@example.com", **fields}, status=201).json


def test_a_new_lead_reaches_the_receiver_signed(api, make_webhook, receiver, worker, db):
    hook = make_webhook()
    assert hook["secret"].startswith("whsec_")
    lead = _new_lead(api)
    assert worker.run_until_idle() == 1
    [request] = receiver.received
    assert request.verified, request.error
    body = request.json
    assert body["type"] == "lead.created"
    assert body["data"]["id"] == lead["id"] and body["data"]["email"] == "signed@example.com"
    for name in (
        "id",
        "name",
        "email",
        "phone",
        "company_name",
        "value",
        "source",
        "tags",
        "stage_id",
        "owner_id",
        "position",
        "version",
        "created_at",
        "updated_at",
    ):
        assert name in body["data"]
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-signature"].startswith("v1,")
    [delivery] = deliveries(db)
    assert request.headers["webhook-id"] == delivery.event_id
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_excerpt) == (
        "delivered",
        1,
        200,
        '{"ok":true}',
    )


def test_one_delivery_per_event_per_webhook_and_updates_fire_too(
    api, make_webhook, receiver, other_receiver, worker, db
):
    make_webhook()
    make_webhook(target=other_receiver, events=["lead.updated"])
    lead = _new_lead(api)
    api.patch(f"/api/v1/leads/{lead['id']}", {"name": "Renamed", "version": lead["version"]})
    worker.run_until_idle()
    assert [r.json["type"] for r in receiver.received] == ["lead.created", "lead.updated"]
    assert [r.json["type"] for r in other_receiver.received] == ["lead.updated"]
    assert other_receiver.received[0].json["data"]["name"] == "Renamed"
    assert other_receiver.received[0].json["data"]["changes"]["name"] == {"from": "Signed Lead", "to": "Renamed"}
    assert len(deliveries(db)) == 3
    assert worker.run_until_idle() == 0, "nothing is sent twice"


def test_events_filter_and_deleted_leads(api, make_webhook, receiver, worker):
    make_webhook(events=["lead.deleted"])
    lead = _new_lead(api, name="Short Lived")
    api.delete(f"/api/v1/leads/{lead['id']}")
    worker.run_until_idle()
    [request] = receiver.received
    assert request.json["type"] == "lead.deleted"
    assert request.json["data"]["name"] == "Short Lived"


def test_500_then_200_is_one_retry_then_delivered(api, make_webhook, receiver, worker, db):
    make_webhook()
    receiver.answers.append(Answer(500, b"upstream broke"))
    _new_lead(api)
    worker.run_until_idle()
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_excerpt) == (
        "pending",
        1,
        500,
        "upstream broke",
    )
    assert delivery.next_attempt_at <= utcnow() + timedelta(seconds=60)
    _make_due(db)
    worker.run_until_idle()
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"], "receivers dedupe by webhook-id"
    assert first.verified and second.verified


def test_410_fails_without_retry(api, make_webhook, receiver, worker, db):
    make_webhook()
    receiver.answers.append(Answer(410, b"gone"))
    _new_lead(api)
    worker.run_until_idle()
    _make_due(db)
    worker.run_until_idle()
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 410)
    assert len(receiver.received) == 1


def test_429_is_retried(api, make_webhook, receiver, worker, db):
    make_webhook()
    receiver.answers.append(Answer(429, b"slow down"))
    _new_lead(api)
    worker.run_until_idle()
    assert deliveries(db)[0].status == "pending"


def test_a_receiver_slower_than_the_time_out_is_retried(api, make_webhook, receiver, worker, db):
    make_webhook()
    receiver.answers.append(Answer(200, b"late", delay=2.5))
    _new_lead(api)
    worker.run_until_idle()
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert delivery.last_excerpt == "no answer within 1 s"
    _make_due(db)
    worker.run_until_idle()
    assert deliveries(db)[0].status == "delivered"


def test_redirects_are_not_followed(api, make_webhook, receiver, other_receiver, worker, db):
    make_webhook()
    receiver.answers.append(Answer(307, b"", headers={"Location": other_receiver.url}))
    _new_lead(api)
    worker.run_until_idle()
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.last_status_code) == ("failed", 307)
    assert delivery.last_excerpt == f"redirect to {other_receiver.url} not followed"
    assert other_receiver.received == []


def test_private_addresses_are_refused_unless_allowed(client_for, owner, strict_app, receiver, db, hooks_app):
    strict = Api(client_for(owner, strict_app))
    for url in (
        receiver.url,
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest",
        "http://localhost:8080/x",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
    ):
        error = strict.post("/api/v1/webhooks", {"url": url, "events": ["lead.created"]}, status=422).json["error"]
        assert "url" in error["fields"], url
    assert db.query(Webhook).count() == 0
    # A webhook whose host name resolves to a private address: refused when sending.
    allowed = Api(client_for(owner, hooks_app))
    hook = allowed.post(
        "/api/v1/webhooks",
        {"url": receiver.url.replace("127.0.0.1", "localhost"), "events": ["lead.created"]},
        status=201,
    ).json
    receiver.secret = hook["secret"]
    strict.post("/api/v1/leads", {"name": "Blocked"}, status=201)
    from orbitflow.deliveries import worker_for

    worker_for(strict_app.registry).run_until_idle()
    [delivery] = deliveries(db)
    assert delivery.status == "failed"
    assert "resolves to a non-public address" in delivery.last_excerpt
    assert receiver.received == []
    # The same delivery through a worker that may reach private networks arrives.
    allowed.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery.id}/resend", status=202)
    worker_for(hooks_app.registry).run_until_idle()
    assert deliveries(db)[0].status == "delivered"
    assert receiver.received[0].verified


def test_a_rolled_back_change_sends_nothing(api, make_webhook, receiver, worker, db):
    make_webhook()
    lead = _new_lead(api)
    worker.run_until_idle()
    # A stale version: the update is refused and rolled back.
    api.patch(f"/api/v1/leads/{lead['id']}", {"name": "Lost update", "version": lead["version"] + 5}, status=409)
    api.post("/api/v1/leads", {"name": ""}, status=422)
    worker.run_until_idle()
    assert [r.json["type"] for r in receiver.received] == ["lead.created"]
    assert len(deliveries(db)) == 1


def test_test_ping_the_log_and_resend(api, make_webhook, receiver, worker, db):
    hook = make_webhook()
    queued = api.post(f"/api/v1/webhooks/{hook['id']}/test", status=202).json
    assert queued["status"] == "pending" and queued["type"] == "webhook.test"
    receiver.answers.append(Answer(400, b"bad signature?"))
    worker.run_until_idle()
    [item] = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json["items"]
    assert (item["status"], item["last_status_code"], item["last_excerpt"]) == ("failed", 400, "bad signature?")
    assert [(a["number"], a["outcome"], a["status_code"]) for a in item["attempt_log"]] == [(1, "failed", 400)]
    api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{item['id']}/resend", status=202)
    api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{item['id']}/resend", status=409)
    worker.run_until_idle()
    [item] = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json["items"]
    assert (item["status"], item["attempts"], item["last_status_code"]) == ("delivered", 2, 200)
    assert receiver.received[1].json["type"] == "webhook.test" and receiver.received[1].verified
    actions = [entry.action for entry in db.query(AuditEntry).order_by(AuditEntry.id)]
    assert [action for action in actions if action.startswith("webhook.")] == [
        "webhook.create",
        "webhook.test",
        "webhook.resend",
    ]


def test_rotated_secret_signs_alongside_the_old_one(api, make_webhook, receiver, worker):
    hook = make_webhook()
    old = hook["secret"]
    rotated = api.post(f"/api/v1/webhooks/{hook['id']}/secret").json
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != old
    receiver.secret = rotated["secret"]
    _new_lead(api)
    worker.run_until_idle()
    [request] = receiver.received
    assert request.verified
    Verifier(old).verify(request.body, request.headers)  # the old secret still verifies for a day


def test_a_webhook_that_keeps_failing_is_disabled(api, make_webhook, receiver, worker, db):
    hook = make_webhook()
    for index in range(3):
        receiver.answers.append(Answer(404, b"no such endpoint"))
        _new_lead(api, name=f"Lead {index}")
        worker.run_until_idle()
    state = api.get(f"/api/v1/webhooks/{hook['id']}").json
    assert state["is_active"] is False and state["consecutive_failures"] == 3
    assert "3 failed deliveries in a row" in state["disabled_reason"]
    _new_lead(api, name="Not sent")
    assert worker.run_until_idle() == 0
    entry = db.query(AuditEntry).filter(AuditEntry.action == "webhook.disable").one()
    assert entry.target_id == str(hook["id"])
    notices = [(row.destination, row.payload["template"]) for row in deliveries(db) if row.channel == "email"]
    assert notices == [("olivia@example.com", "webhook_disabled")], "the owners are told"
    enabled = api.patch(f"/api/v1/webhooks/{hook['id']}", {"is_active": True}).json
    assert enabled["is_active"] is True and enabled["consecutive_failures"] == 0
