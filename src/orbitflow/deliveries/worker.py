"""Workers: claim due deliveries, send them outside any transaction, record the answers.

Any number of workers cooperate, in app processes (a thread each) and in dedicated
``orbitflow worker`` processes, across replicas. On MariaDB a claim is
``SELECT ... FOR UPDATE SKIP LOCKED`` followed by marking the rows ``sending`` with a
claim expiry, committed before anything is sent; on SQLite, which has no row locks, one
``UPDATE ... WHERE id IN (SELECT ... LIMIT n)`` claims the rows atomically (SQLite
serialises writers). A claim that is never finished (the worker was killed mid-send)
expires and the row is claimed again: deliveries are sent at least once, and every
payload carries its event id for the receiver to drop duplicates.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby

from sqlalchemy import insert, select, update
from sqlalchemy.orm import sessionmaker

from orbitflow.db import unscoped
from orbitflow.deliveries.backoff import next_attempt_after
from orbitflow.deliveries.channels import Channel, SendResult, excerpt
from orbitflow.deliveries.models import OPEN_STATUSES, Delivery, DeliveryAttempt
from orbitflow.models.meta import utcnow

log = logging.getLogger(__name__)


def claim_due(factory: sessionmaker, *, limit: int, claim_seconds: int) -> list[Delivery]:
    """Claim up to ``limit`` due deliveries (pending and due, or sending with an expired
    claim) for this caller; returns detached copies with ``attempts`` already counting
    this attempt."""
    token = secrets.token_hex(16)
    with factory() as session, unscoped(session), session.begin():
        now = utcnow()
        until = now + timedelta(seconds=claim_seconds)
        due = (Delivery.status.in_(OPEN_STATUSES), Delivery.next_attempt_at <= now)
        oldest_first = (Delivery.next_attempt_at, Delivery.id)
        claim = {
            "status": "sending",
            "claim_token": token,
            "claimed_until": until,
            "next_attempt_at": until,
            "attempts": Delivery.attempts + 1,
        }
        if session.get_bind().dialect.name == "sqlite":
            chosen = select(Delivery.id).where(*due).order_by(*oldest_first).limit(limit)
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(chosen), *due)
                .values(**claim)
                .execution_options(synchronize_session=False)
            )
        else:
            ids = session.scalars(
                select(Delivery.id).where(*due).order_by(*oldest_first).limit(limit).with_for_update(skip_locked=True)
            ).all()
            if not ids:
                return []
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids))
                .values(**claim)
                .execution_options(synchronize_session=False)
            )
        rows = list(session.scalars(select(Delivery).where(Delivery.claim_token == token).order_by(*oldest_first)))
        session.expunge_all()
    return rows


@dataclass(frozen=True)
class Answer:
    delivery: Delivery
    result: SendResult
    duration_ms: int


def _new_state(delivery: Delivery, result: SendResult, now) -> tuple[str, dict]:
    """(the attempt's outcome, the delivery's new column values)."""
    outcome = result.outcome
    values: dict = {
        "last_status_code": result.status_code,
        "last_excerpt": excerpt(result.excerpt),
        "last_attempt_at": now,
        "claim_token": None,
        "claimed_until": None,
        "updated_at": now,
    }
    if outcome == "delivered":
        values.update(status="delivered", delivered_at=now)
    elif outcome == "failed":
        values.update(status="failed")
    else:
        retry_at = next_attempt_after(delivery.attempts, now)
        if retry_at is None:
            outcome = "dead"
            values.update(status="dead")
        else:
            values.update(status="pending", next_attempt_at=retry_at)
    return outcome, values


def record_answers(
    factory: sessionmaker, answers: Sequence[Answer], channels: Mapping[str, Channel] | None = None
) -> None:
    """Store each answer: the attempt rows, and the deliveries' new state, in one
    transaction (one UPDATE per group of rows that get the same values, which is most of
    them). A delivery whose claim was taken over meanwhile keeps the new claim; its
    attempt is still kept."""
    if not answers:
        return
    with factory() as session, unscoped(session), session.begin(), session.no_autoflush:
        now = utcnow()
        groups: dict[tuple, list[Answer]] = {}
        states: dict[int, dict] = {}
        attempts = []
        for answer in answers:
            outcome, values = _new_state(answer.delivery, answer.result, now)
            states[answer.delivery.id] = values
            key = (answer.delivery.claim_token, *sorted((k, str(v)) for k, v in values.items()))
            groups.setdefault(key, []).append(answer)
            attempts.append(
                {
                    "company_id": answer.delivery.company_id,
                    "delivery_id": answer.delivery.id,
                    "number": answer.delivery.attempts,
                    "outcome": outcome,
                    "status_code": answer.result.status_code,
                    "excerpt": excerpt(answer.result.excerpt),
                    "duration_ms": answer.duration_ms,
                    "created_at": now,
                }
            )
        settled_rows: list[Answer] = []
        for group in groups.values():
            first = group[0].delivery
            ids = [answer.delivery.id for answer in group]
            changed = session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids), Delivery.claim_token == first.claim_token)
                .values(**states[first.id])
                .execution_options(synchronize_session=False)
            ).rowcount
            # A group some of whose claims were taken over is left to the new claimant.
            if changed == len(ids):
                settled_rows.extend(group)
        session.execute(insert(DeliveryAttempt), attempts)
        for answer in settled_rows:
            channel = (channels or {}).get(answer.delivery.channel)
            settled = getattr(channel, "settled", None)
            if settled is not None:
                settled(session, answer.delivery, states[answer.delivery.id]["status"], answer.result)


def send_batches(channels: Mapping[str, Channel], deliveries: Sequence[Delivery]) -> list[Answer]:
    """Send claimed rows, grouped by channel and destination up to the channel's batch size."""
    answers: list[Answer] = []
    key = lambda row: (row.channel, row.destination)  # noqa: E731
    for (channel_name, _destination), group in groupby(sorted(deliveries, key=key), key=key):
        rows = list(group)
        channel = channels.get(channel_name)
        if channel is None:
            answers.extend(
                Answer(row, SendResult("retry", None, f"no delivery channel named {channel_name!r} is enabled"), 0)
                for row in rows
            )
            continue
        size = max(1, int(channel.max_batch))
        for start in range(0, len(rows), size):
            answers.extend(_send_one_batch(channel, rows[start : start + size]))
    return answers


def _send_one_batch(channel: Channel, batch: list[Delivery]) -> Iterable[Answer]:
    started = time.monotonic()
    try:
        results = list(channel.send(batch))
        if len(results) != len(batch):
            raise RuntimeError(f"channel {channel.name!r} returned {len(results)} results for {len(batch)} deliveries")
    except Exception as error:  # a broken channel must not stop the worker
        log.exception("delivery channel %s failed", channel.name)
        results = [SendResult("retry", None, f"{type(error).__name__}: {error}")] * len(batch)
    duration_ms = int((time.monotonic() - started) * 1000 / max(1, len(batch)))
    return [Answer(row, result, duration_ms) for row, result in zip(batch, results, strict=True)]


class Worker:
    """Claims, sends and records, cycle after cycle, until told to stop."""

    def __init__(
        self,
        factory: sessionmaker,
        channels: Mapping[str, Channel] | Callable[[], Mapping[str, Channel]],
        *,
        batch_size: int = 20,
        poll_seconds: float = 1.0,
        claim_seconds: int = 300,
    ):
        self.factory = factory
        self._channels = channels
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.claim_seconds = claim_seconds
        self.stopping = threading.Event()

    @property
    def channels(self) -> Mapping[str, Channel]:
        return self._channels() if callable(self._channels) else self._channels

    def run_once(self) -> int:
        """One cycle; returns how many deliveries it handled."""
        claimed = claim_due(self.factory, limit=self.batch_size, claim_seconds=self.claim_seconds)
        if not claimed:
            return 0
        channels = self.channels
        record_answers(self.factory, send_batches(channels, claimed), channels)
        return len(claimed)

    def run_until_idle(self, max_cycles: int = 1000) -> int:
        """Cycles until nothing is due (tests and the command line's --once)."""
        total = 0
        for _ in range(max_cycles):
            handled = self.run_once()
            if not handled:
                break
            total += handled
        return total

    def run(self) -> None:
        """Until :meth:`stop`: a cycle, and a pause when there was nothing to do. A
        database outage is logged and waited out."""
        while not self.stopping.is_set():
            try:
                handled = self.run_once()
            except Exception:
                log.exception("delivery worker cycle failed; trying again shortly")
                handled = 0
            if not handled:
                self.stopping.wait(self.poll_seconds)

    def stop(self) -> None:
        self.stopping.set()
