"""The rollups writer: a change only notes its lead; a flush refreshes the facts and
recounts the daily rows they touch, exactly, however many writers flush the same leads."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime

import pytest
import redis
from sqlalchemy import event, func, select
from sqlalchemy.exc import DBAPIError

from orbitflow.app import make_app
from orbitflow.batches import MemoryBuffer, RedisBuffer
from orbitflow.leads.services import create_lead, delete_lead, lead_event
from orbitflow.lifecycle import shut_down
from orbitflow.plugins import notify_in_transaction
from orbitflow.shared import shared
from orbitflow_plugins.analytics.models import LeadDaily, LeadFact
from orbitflow_plugins.analytics.rebuild import rebuild
from orbitflow_plugins.analytics.rollups import LeadChange, LeadRollups

DAY = datetime(2026, 11, 12, 10, 0)


def daily(db, company_id) -> dict[tuple, tuple]:
    db.expire_all()
    rows = db.execute(
        select(
            LeadDaily.day,
            LeadDaily.source,
            LeadDaily.utm_campaign,
            LeadDaily.leads,
            LeadDaily.won,
            LeadDaily.won_value,
            LeadDaily.cohort_won,
        ).where(LeadDaily.company_id == company_id)
    ).all()
    return {
        (str(day), source, campaign): (leads, won, float(value), cohort)
        for day, source, campaign, leads, won, value, cohort in rows
    }


def facts(db, company_id) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(LeadFact).where(LeadFact.company_id == company_id))


def spying(engine):
    statements: list[str] = []

    def spy(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", spy)
    return statements, lambda: event.remove(engine, "before_cursor_execute", spy)


def test_a_change_sends_no_rollup_statement_and_counts_after_the_flush(kit, company, backend, db):
    statements, stop = spying(backend.engine)
    try:
        lead = kit.lead(company, DAY, name="Burst", value="120", utm={"source": "facebook", "campaign": "bf"})
        kit.move(lead, company, "Won")
    finally:
        stop()
    assert not [s for s in statements if "analytics_lead_daily" in s or "analytics_lead_facts" in s]
    # The stage history is the change's own record: one INSERT per entry, nothing read.
    history = [s for s in statements if "lead_stage_history" in s]
    assert len(history) == 2 and all(s.lstrip().upper().startswith("INSERT") for s in history)
    assert daily(db, company.id) == {}
    kit.flush()
    counts = daily(db, company.id)
    # Came in on the 12th (and is won now); won today, with its value.
    assert counts.pop(("2026-11-12", "manual", "bf")) == (1, 0, 0.0, 1)
    assert list(counts.values()) == [(0, 1, 120.0, 0)]
    assert facts(db, company.id) == 1


def test_one_flush_is_one_transaction_of_a_few_statements_for_many_leads(company, backend, db):
    # Leads written without announcing them: only this writer hears of them.
    leads = [
        create_lead(db, company_id=company.id, actor_id=None, name=f"L{n}", created_at=DAY, utm={"campaign": "bf"})
        for n in range(30)
    ]
    db.commit()
    rollups = LeadRollups(backend.engine, MemoryBuffer(), interval=60)
    for lead in leads:
        rollups.buffer.push(LeadChange(company.id, lead.id))
    statements, stop = spying(backend.engine)
    try:
        assert rollups.flush() == 30
    finally:
        stop()
    # Zones, stored facts, leads, their quizzes, the rows' lock, the facts, two recounts, the rows.
    assert len(statements) <= 10, statements
    assert daily(db, company.id) == {("2026-11-12", "manual", "bf"): (30, 0, 0.0, 0)}


def test_a_rolled_back_change_leaves_nothing(kit, company, db):
    rollups = shared(kit.app.registry, LeadRollups)
    rollups.flush()
    lead = create_lead(db, company_id=company.id, actor_id=None, name="Never", created_at=DAY)
    notify_in_transaction(kit.app.registry, db, "lead_created", lead_event(lead, None))
    db.rollback()
    assert len(rollups.buffer) == 0
    assert rollups.flush() == 0
    assert daily(db, company.id) == {}
    assert facts(db, company.id) == 0


def test_a_deleted_lead_leaves_the_counts(kit, company, db):
    lead = kit.lead(company, DAY, name="Gone soon", utm={"campaign": "bf"})
    kit.lead(company, DAY, name="Stays", utm={"campaign": "bf"})
    kit.flush()
    assert daily(db, company.id)[("2026-11-12", "manual", "bf")][0] == 2
    doomed = db.get(type(lead), lead.id)
    event_of_delete = lead_event(doomed, None)
    delete_lead(db, doomed, actor_id=None)
    notify_in_transaction(kit.app.registry, db, "lead_deleted", event_of_delete)
    db.commit()
    kit.flush()
    assert daily(db, company.id) == {("2026-11-12", "manual", "bf"): (1, 0, 0.0, 0)}
    assert facts(db, company.id) == 1


def flush_until_written(rollups: LeadRollups, start: threading.Barrier, errors: list[BaseException]) -> None:
    start.wait()
    for _ in range(20):
        try:
            rollups.flush()
            return
        except DBAPIError as error:  # a deadlock or a first fact written by the other: again
            errors.append(error)
    raise AssertionError("the writer never got its batch written")


def slow_recount_in(thread_name: str):
    """Hold the named thread's writer after it read its recounts and before it writes
    them, so the other writer runs in that window: it must wait for the daily rows' lock,
    or it would write its own recount and the held one would then overwrite it with one
    that misses the other's leads."""

    def pause(_conn, _cursor, statement, *_args) -> None:
        if threading.current_thread().name == thread_name and "GROUP BY" in statement and "lead_facts" in statement:
            time.sleep(0.2)

    return pause


@pytest.mark.parametrize("rounds", [3])
def test_two_writers_flushing_the_same_key_converge_to_the_exact_counts(kit, make_company, backend, db, rounds):
    company = make_company(subscription_id=f"race-{uuid.uuid4().hex[:8]}", time_zone="Europe/Berlin")
    shared_writer = shared(kit.app.registry, LeadRollups)
    leads = [kit.lead(company, DAY, name=f"L{n}", value="10", utm={"campaign": "bf"}) for n in range(12)]
    pause = slow_recount_in("first")
    event.listen(backend.engine, "after_cursor_execute", pause)
    try:
        for round_number in range(rounds):
            # Leads of both halves change between the rounds: every flush has work to do.
            for lead in leads[round_number % 3 :: 3]:
                kit.move(lead, company, "Won" if round_number % 2 == 0 else "Contacted")
            changes = [LeadChange(company.id, lead.id) for lead in leads]
            first = LeadRollups(backend.engine, MemoryBuffer(), interval=60)
            second = LeadRollups(backend.engine, MemoryBuffer(), interval=60)
            # Different leads of the same daily rows, or (odd rounds) overlapping leads in
            # another order; the last round is of different leads.
            first.buffer.give_back(changes[:6] if round_number % 2 == 0 else changes[:9])
            second.buffer.give_back(changes[6:] if round_number % 2 == 0 else changes[:2:-1])
            start = threading.Barrier(2)
            errors: list[BaseException] = []
            threads = [
                threading.Thread(target=flush_until_written, args=(writer, start, errors), name=name)
                for writer, name in ((first, "first"), (second, "second"))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert len(first.buffer) == len(second.buffer) == 0
    finally:
        event.remove(backend.engine, "after_cursor_execute", pause)
    shared_writer.flush()  # the same changes again, from the app's writer: counted once
    kept = daily(db, company.id)
    won_now = sum(1 for lead in leads if db.get(type(lead), lead.id).stage.kind == "won")
    assert sum(row[0] for row in kept.values()) == 12
    assert sum(row[1] for row in kept.values()) == won_now
    assert sum(row[2] for row in kept.values()) == 10.0 * won_now
    with backend.engine.begin() as connection:
        rebuild(connection, company.id)
    assert daily(db, company.id) == kept


def test_an_app_with_redis_notes_its_changed_leads_there(backend, redis_url):
    # An engine of its own: the writer belongs to the engine, made by its first app.
    app = make_app(backend.ini(**{"orbitflow.redis_url": redis_url}), environ={})
    try:
        buffer = shared(app.registry, LeadRollups).buffer
        assert isinstance(buffer, RedisBuffer)
        assert buffer.key.endswith(":analytics-leads")
        assert backend.engine.url.database.split("/")[-1] in buffer.key
    finally:
        shut_down(app.registry)


def test_with_redis_the_changed_leads_wait_for_any_process(backend, db, company, kit, redis_url):
    key = f"orbitflow-test:{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url)
    try:
        taker = LeadRollups(backend.engine, RedisBuffer(redis_url, key, LeadChange.from_json), interval=60)
        lead = kit.lead(company, DAY, name="Kept in Redis", utm={"campaign": "bf"})
        taker.buffer.push(LeadChange(company.id, lead.id))
        assert client.llen(key) == 1
        writer = LeadRollups(backend.engine, RedisBuffer(redis_url, key, LeadChange.from_json), interval=60)
        assert writer.flush() == 1
        assert client.llen(key) == 0
        assert daily(db, company.id) == {("2026-11-12", "manual", "bf"): (1, 0, 0.0, 0)}
    finally:
        client.delete(key)
