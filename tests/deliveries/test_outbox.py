"""The outbox: deliveries written in the change's transaction, claimed and sent by
workers after commit, retried with back-off, every attempt kept."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from orbitflow.deliveries import MAX_ATTEMPTS, Delivery, DeliveryAttempt, SendResult, Worker, resend
from orbitflow.deliveries.backoff import next_attempt_after
from orbitflow.deliveries.worker import claim_due
from orbitflow.models.meta import utcnow
from support import csrf_token, login


def _api_post(client, url, body, status=201):
    return client.post_json(url, body, headers={"X-CSRF-Token": csrf_token(client)}, status=status)


def _deliveries(db) -> list[Delivery]:
    db.expire_all()
    return list(db.scalars(select(Delivery).order_by(Delivery.id)))


def _attempts(db, delivery_id: int) -> list[DeliveryAttempt]:
    return list(
        db.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id).order_by(DeliveryAttempt.number)
        )
    )


def test_a_change_and_its_delivery_are_committed_together(outbox_client, outbox_plugin, owner, db):
    login(outbox_client, owner)
    lead = _api_post(outbox_client, "/api/v1/leads", {"name": "Ada Outbox", "email": "ada@example.com"}).json
    [(name, event_id, in_transaction)] = outbox_plugin.in_transaction
    assert (name, in_transaction) == ("lead_created", True)
    assert outbox_plugin.after_commit == ["lead_created"]
    [delivery] = _deliveries(db)
    assert (delivery.company_id, delivery.channel, delivery.destination) == (owner.company_id, "scripted", "receiver-1")
    assert delivery.event_id == event_id and event_id.startswith("evt_")
    assert delivery.status == "pending" and delivery.attempts == 0
    assert delivery.payload["lead"]["id"] == lead["id"]
    assert delivery.payload["lead"]["email"] == "ada@example.com"


def test_every_lead_change_enqueues_one_delivery_per_event(outbox_client, outbox_plugin, owner, first_stage, db):
    login(outbox_client, owner)
    headers = {"X-CSRF-Token": csrf_token(outbox_client)}
    lead = _api_post(outbox_client, "/api/v1/leads", {"name": "Changing Lead"}).json
    lead = outbox_client.patch_json(
        f"/api/v1/leads/{lead['id']}", {"name": "Changed Lead", "version": lead["version"]}, headers=headers
    ).json
    stages = outbox_client.get("/api/v1/stages").json["items"]
    outbox_client.post_json(
        f"/api/v1/leads/{lead['id']}/move", {"stage_id": stages[1]["id"], "version": lead["version"]}, headers=headers
    )
    outbox_client.delete(f"/api/v1/leads/{lead['id']}", headers=headers, status=204)
    types = [row.payload["type"] for row in _deliveries(db)]
    assert types == ["lead_created", "lead_updated", "lead_moved", "lead_deleted"]
    assert len({row.event_id for row in _deliveries(db)}) == 4
    deleted = _deliveries(db)[-1]
    assert deleted.payload["lead"]["name"] == "Changed Lead", "a deleted lead's fields travel with its event"


def test_a_rolled_back_change_leaves_no_delivery(outbox_client, outbox_plugin, owner, db):
    """The hook enqueued a delivery, then the request failed: neither lead nor delivery."""
    from orbitflow.leads.models import Lead

    login(outbox_client, owner)
    outbox_client.get("/outbox-probe/create-then-fail", status=500)
    assert [name for name, _, _ in outbox_plugin.in_transaction] == ["lead_created"]
    assert outbox_plugin.after_commit == []
    assert _deliveries(db) == []
    assert db.scalars(select(Lead).where(Lead.name == "Doomed")).all() == []


def test_enqueued_delivery_is_dropped_when_the_transaction_rolls_back(factory, company, db):
    from orbitflow.deliveries import enqueue

    session = factory()
    session.info["tenant_bypass"] = True
    with session.begin():
        enqueue(session, company_id=company.id, channel="scripted", destination="x", payload={}, event_id="evt_1")
        session.flush()
        session.rollback()
    session.close()
    assert _deliveries(db) == []


def test_enqueueing_one_event_twice_gives_one_delivery(factory, company, db):
    from orbitflow.deliveries import enqueue

    session = factory()
    session.info["tenant_bypass"] = True
    with session.begin():
        first = enqueue(session, company_id=company.id, channel="c", destination="d", payload={}, event_id="evt_same")
        again = enqueue(session, company_id=company.id, channel="c", destination="d", payload={}, event_id="evt_same")
        other = enqueue(session, company_id=company.id, channel="c", destination="e", payload={}, event_id="evt_same")
    session.close()
    assert (first, again, other) == (True, False, True)
    assert [(row.destination, row.event_id) for row in _deliveries(db)] == [("d", "evt_same"), ("e", "evt_same")]


def test_several_deliveries_are_written_with_one_insert(factory, company, backend, db):
    from orbitflow.deliveries import Outgoing, enqueue_many
    from statements import Statements

    session = factory()
    session.info["tenant_bypass"] = True
    outgoing = [Outgoing(company.id, "c", f"receiver-{n}", {"n": n}, "evt_many") for n in range(3)]
    with session.begin():
        session.connection()
        with Statements(backend.engine) as sent:
            assert enqueue_many(session, outgoing) == 3
            assert enqueue_many(session, outgoing[:1]) == 0, "the transaction has it already"
    session.close()
    assert [statement.split()[:3] for statement in sent.sent] == [["INSERT", "INTO", "deliveries"]]
    rows = _deliveries(db)
    assert [(row.destination, row.payload, row.status) for row in rows] == [
        ("receiver-0", {"n": 0}, "pending"),
        ("receiver-1", {"n": 1}, "pending"),
        ("receiver-2", {"n": 2}, "pending"),
    ]


def test_a_rolled_back_enqueue_can_be_enqueued_again_by_the_next_transaction(factory, company, db):
    from orbitflow.deliveries import enqueue

    session = factory()
    session.info["tenant_bypass"] = True
    session.begin()
    assert enqueue(session, company_id=company.id, channel="c", destination="d", payload={}, event_id="evt_again")
    session.rollback()
    with session.begin():
        assert enqueue(session, company_id=company.id, channel="c", destination="d", payload={}, event_id="evt_again")
    session.close()
    assert [row.event_id for row in _deliveries(db)] == ["evt_again"]


def test_a_session_bound_to_a_company_cannot_enqueue_for_another(factory, company, make_company, db):
    from orbitflow.db import bind_company
    from orbitflow.deliveries import enqueue
    from orbitflow.tenancy_core import CoreTenantError

    other = make_company(name="Other Outbox Co")
    session = factory()
    bind_company(session, company.id)
    with pytest.raises(CoreTenantError), session.begin():
        enqueue(session, company_id=other.id, channel="c", destination="d", payload={}, event_id="evt_other")
    session.close()
    assert _deliveries(db) == []


def test_payload_over_the_cap_is_refused_before_commit(factory, company, db):
    from orbitflow.deliveries import enqueue
    from orbitflow.deliveries.outbox import PayloadTooLarge

    session = factory()
    session.info["tenant_bypass"] = True
    with pytest.raises(PayloadTooLarge), session.begin():
        enqueue(
            session, company_id=company.id, channel="c", destination="d", payload={"x": "a" * 300_000}, event_id="e"
        )
    session.close()
    assert _deliveries(db) == []


def test_worker_sends_due_deliveries_and_records_the_answer(worker, scripted_channel, add_delivery, db):
    first, second = add_delivery(n=1), add_delivery(n=2)
    assert worker.run_until_idle() == 2
    assert [batch[0][2] for batch in scripted_channel.batches] == [{"n": 1}, {"n": 2}]
    for delivery_id in (first, second):
        delivery = db.get(Delivery, delivery_id)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
        assert delivery.delivered_at is not None and delivery.claim_token is None
        [attempt] = _attempts(db, delivery_id)
        assert (attempt.number, attempt.outcome, attempt.status_code, attempt.excerpt) == (1, "delivered", 200, "ok")
    assert sorted(scripted_channel.settled_calls) == [(first, "delivered"), (second, "delivered")]
    assert worker.run_until_idle() == 0, "a delivered row is not sent again"


def test_retry_backs_off_and_the_first_retry_comes_within_a_minute(worker, scripted_channel, add_delivery, db):
    delivery_id = add_delivery()
    scripted_channel.answers.append(SendResult("retry", 503, "busy"))
    before = utcnow()
    worker.run_until_idle()
    delivery = db.get(Delivery, delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_excerpt) == (
        "pending",
        1,
        503,
        "busy",
    )
    wait = delivery.next_attempt_at - before
    assert timedelta(seconds=20) <= wait <= timedelta(seconds=60)
    assert worker.run_until_idle() == 0, "not due yet"
    # Time passes: the row is due again, and the second answer is a success.
    db.execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    worker.run_until_idle()
    db.expire_all()
    delivery = db.get(Delivery, delivery_id)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert [(a.number, a.outcome, a.status_code) for a in _attempts(db, delivery_id)] == [
        (1, "retry", 503),
        (2, "delivered", 200),
    ]


def test_failed_answer_is_final(worker, scripted_channel, add_delivery, db):
    delivery_id = add_delivery()
    scripted_channel.answers.append(SendResult("failed", 410, "gone"))
    worker.run_until_idle()
    delivery = db.get(Delivery, delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 410)
    db.execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(days=2)))
    db.commit()
    assert worker.run_until_idle() == 0
    assert scripted_channel.settled_calls == [(delivery_id, "failed")]


def test_delivery_is_dead_after_the_last_attempt(worker, scripted_channel, add_delivery, db):
    delivery_id = add_delivery()
    db.execute(update(Delivery).values(attempts=MAX_ATTEMPTS - 1))
    db.commit()
    scripted_channel.answers.append(SendResult("retry", None, "timed out"))
    worker.run_until_idle()
    delivery = db.get(Delivery, delivery_id)
    assert (delivery.status, delivery.attempts) == ("dead", MAX_ATTEMPTS)
    [attempt] = _attempts(db, delivery_id)
    assert (attempt.outcome, attempt.excerpt) == ("dead", "timed out")


def test_back_off_schedule_spans_about_a_day_with_jitter():
    import random

    now = utcnow()
    total = timedelta()
    for made in range(1, MAX_ATTEMPTS):
        retry_at = next_attempt_after(made, now, rng=random.Random(made))
        assert retry_at is not None
        total += retry_at - now
    assert timedelta(hours=19) <= total <= timedelta(hours=29)
    assert next_attempt_after(MAX_ATTEMPTS, now) is None
    firsts = {next_attempt_after(1, now, rng=random.Random(seed)) for seed in range(20)}
    assert len(firsts) > 1, "retries are spread by jitter"
    assert all(now < first <= now + timedelta(seconds=60) for first in firsts)


def test_an_expired_claim_is_taken_over_by_another_worker(worker, scripted_channel, add_delivery, factory, db):
    delivery_id = add_delivery()
    # A worker claims the row and is killed before it records anything.
    [claimed] = claim_due(factory, limit=10, claim_seconds=300)
    assert claimed.id == delivery_id
    db.expire_all()
    assert db.get(Delivery, delivery_id).status == "sending"
    assert worker.run_until_idle() == 0, "a live claim is left alone"
    db.execute(update(Delivery).values(claimed_until=utcnow(), next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    assert worker.run_until_idle() == 1
    db.expire_all()
    delivery = db.get(Delivery, delivery_id)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert len(scripted_channel.batches) == 1


def test_unknown_channel_is_retried_later(worker, add_delivery, db):
    delivery_id = add_delivery(channel="not-installed")
    worker.run_until_idle()
    delivery = db.get(Delivery, delivery_id)
    assert delivery.status == "pending"
    assert delivery.last_excerpt == "no delivery channel named 'not-installed' is enabled"


def test_a_channel_that_raises_counts_as_retry(outbox_app, factory, add_delivery, db):
    class Broken:
        name, max_batch = "scripted", 1

        def send(self, deliveries):
            raise ConnectionError("receiver unreachable")

    delivery_id = add_delivery()
    Worker(factory, {"scripted": Broken()}).run_until_idle()
    delivery = db.get(Delivery, delivery_id)
    assert (delivery.status, delivery.last_excerpt) == ("pending", "ConnectionError: receiver unreachable")


def test_batches_group_one_destination_up_to_max_batch(factory, add_delivery, scripted_channel):
    scripted_channel.max_batch = 2
    try:
        for _ in range(3):
            add_delivery(destination="a")
        add_delivery(destination="b")
        Worker(factory, {"scripted": scripted_channel}, batch_size=10).run_until_idle()
    finally:
        scripted_channel.max_batch = 1
    assert sorted(len(batch) for batch in scripted_channel.batches) == [1, 1, 2]


def test_resend_queues_a_settled_delivery_again(worker, scripted_channel, add_delivery, factory, db):
    delivery_id = add_delivery()
    scripted_channel.answers.append(SendResult("failed", 400, "bad"))
    worker.run_until_idle()
    session = factory()
    session.info["tenant_bypass"] = True
    with session.begin():
        resend(session, session.get(Delivery, delivery_id))
    session.close()
    worker.run_until_idle()
    db.expire_all()
    delivery = db.get(Delivery, delivery_id)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert scripted_channel.batches[0][0][1] == scripted_channel.batches[1][0][1], "same event id both times"


def test_concurrent_workers_send_each_delivery_once(factory, add_delivery, scripted_channel, backend):
    if backend.name == "sqlite":
        pytest.skip("SQLite runs one worker")
    ids = {add_delivery() for _ in range(120)}
    lock = threading.Lock()
    sent: list[int] = []

    class Counting:
        name, max_batch = "scripted", 1

        def send(self, deliveries):
            with lock:
                sent.extend(row.id for row in deliveries)
            return [SendResult("delivered", 200, "")] * len(deliveries)

    workers = [Worker(factory, {"scripted": Counting()}, batch_size=7) for _ in range(4)]
    threads = [threading.Thread(target=w.run_until_idle) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(sent) == sorted(ids)
