"""The funnel-event recorder: page views and steps never wait for a database write.

Public quiz pages hand their events (view, start, answer, complete) to the process's
:class:`FunnelRecorder`. It keeps them in a buffer and a background thread writes what
has gathered with ONE multi-row ``INSERT`` into ``quiz_funnel_events`` at most every
``interval`` seconds (one by default); whatever is left is written when the process stops
(:mod:`orbitflow.lifecycle`: ``atexit``, and gunicorn's ``worker_exit``).

The buffer is the process's memory (:class:`MemoryBuffer`), or a Redis list when
``REDIS_URL`` is set (:class:`RedisBuffer`): then events survive the crash of the process
that took them, and any process's flush writes them. Readers count distinct
``session_key`` values per step, so an event that reaches the table twice changes no
number. The loss window is stated in the README: events of at most the last interval
(plus a flush that was being written) when a process is killed without running its exit
hooks, none with Redis unless Redis itself is lost.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from orbitflow.models.meta import utcnow
from orbitflow_plugins.quiz.models import Quiz as QuizModel
from orbitflow_plugins.quiz.models import QuizFunnelEvent, QuizQuestion

log = logging.getLogger(__name__)

FUNNEL = QuizFunnelEvent.__table__
DEFAULT_INTERVAL = 1.0
# One INSERT holds at most this many rows; a bigger backlog takes several in a row.
MAX_BATCH = 2000
# Events kept while the database cannot be written; beyond that the oldest are dropped.
MAX_BUFFERED = 200_000
# Steps seen recently by this process, so a page reporting one twice is written once.
SEEN_STEPS = 50_000
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


@dataclass(frozen=True)
class FunnelEvent:
    company_id: int
    quiz_id: int
    session_key: str
    kind: str
    question_id: int | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    ip_hash: str | None = None
    device: str | None = None
    created_at: datetime = field(default_factory=utcnow)

    def row(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps({**self.row(), "created_at": self.created_at.strftime(TIME_FORMAT)})

    @classmethod
    def from_json(cls, raw: str | bytes) -> FunnelEvent:
        data = json.loads(raw)
        data["created_at"] = datetime.strptime(data["created_at"], TIME_FORMAT)
        return cls(**data)


class Buffer(Protocol):
    """Where events wait for the next flush."""

    def push(self, event: FunnelEvent) -> None: ...

    def take(self, limit: int) -> list[FunnelEvent]:
        """Remove and return up to ``limit`` of the oldest events."""
        ...

    def give_back(self, events: Sequence[FunnelEvent]) -> None:
        """Return events whose write failed, to be tried again by the next flush."""
        ...

    def after_fork(self) -> None: ...


class MemoryBuffer:
    """The process's own buffer: a deque (appends and pops are atomic in CPython)."""

    def __init__(self) -> None:
        self._events: deque[FunnelEvent] = deque(maxlen=MAX_BUFFERED)

    def push(self, event: FunnelEvent) -> None:
        self._events.append(event)

    def take(self, limit: int) -> list[FunnelEvent]:
        taken = []
        pop = self._events.popleft
        try:
            for _ in range(limit):
                taken.append(pop())
        except IndexError:
            pass
        return taken

    def give_back(self, events: Sequence[FunnelEvent]) -> None:
        self._events.extendleft(reversed(events))

    def after_fork(self) -> None:
        # What the parent had buffered is the parent's to write.
        self._events = deque(maxlen=MAX_BUFFERED)

    def __len__(self) -> int:
        return len(self._events)


class RedisBuffer:
    """A Redis list shared by every process and replica: ``RPUSH`` per event, ``LPOP n``
    per flush (atomic, so two flushing processes never take the same event)."""

    def __init__(self, url: str, key: str) -> None:
        import redis

        self.url = url
        self.key = key
        self._client = redis.Redis.from_url(url)

    def push(self, event: FunnelEvent) -> None:
        self._client.rpush(self.key, event.to_json())

    def take(self, limit: int) -> list[FunnelEvent]:
        raw = self._client.lpop(self.key, limit) or []
        return [FunnelEvent.from_json(item) for item in raw]

    def give_back(self, events: Sequence[FunnelEvent]) -> None:
        if events:
            self._client.lpush(self.key, *[event.to_json() for event in reversed(events)])

    def after_fork(self) -> None:
        # Connections must not be shared with the parent.
        self._client.connection_pool.reset()

    def __len__(self) -> int:
        return int(self._client.llen(self.key))


class FunnelRecorder:
    """One per app process. :meth:`record` only appends; the writer thread, started on the
    first event of each process (so a forked worker starts its own), does the writing."""

    def __init__(self, engine: Engine, buffer: Buffer, interval: float = DEFAULT_INTERVAL) -> None:
        self.engine = engine
        self.buffer = buffer
        self.interval = interval
        self._pid = os.getpid()
        self._start_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._seen: OrderedDict[tuple[Any, ...], None] = OrderedDict()
        self._seen_lock = threading.Lock()
        # Called with (connection, rows) inside the transaction that writes each batch, so
        # what is derived from the events (daily counts) is written exactly when they are.
        self.observers: list[Callable[[Connection, list[dict[str, Any]]], None]] = []
        # Told this process's backlog after each event and flush (the metrics' gauge), for
        # a buffer of this process's own; a shared buffer is measured at the scrape.
        self.on_backlog: Callable[[int], None] | None = None

    # -- taking events ------------------------------------------------------------------

    def record(self, event: FunnelEvent) -> None:
        self._ensure_writer()
        self.buffer.push(event)
        self._report_backlog()

    def _report_backlog(self) -> None:
        if self.on_backlog is not None:
            self.on_backlog(len(self.buffer))

    def record_many(self, events: Iterable[FunnelEvent]) -> None:
        for event in events:
            self.record(event)

    def first_time(self, quiz_id: int, session_key: str, kind: str, question_id: int | None = None) -> bool:
        """Whether this process has not seen this step of this form yet (and remember it)."""
        key = (quiz_id, session_key, kind, question_id)
        with self._seen_lock:
            if key in self._seen:
                return False
            self._remember(key)
        return True

    def seen(self, quiz_id: int, session_key: str, kind: str, question_id: int | None = None) -> bool:
        """Whether this process has recorded this step of this form (remembering nothing)."""
        with self._seen_lock:
            return (quiz_id, session_key, kind, question_id) in self._seen

    def record_steps(self, events: Sequence[FunnelEvent]) -> None:
        """Record steps and remember them, so the same steps reported later are not."""
        with self._seen_lock:
            for event in events:
                self._remember((event.quiz_id, event.session_key, event.kind, event.question_id))
        self.record_many(events)

    def forget_steps(self) -> None:
        with self._seen_lock:
            self._seen.clear()

    def _remember(self, key: tuple[Any, ...]) -> None:
        self._seen[key] = None
        if len(self._seen) > SEEN_STEPS:
            self._seen.popitem(last=False)

    # -- writing ------------------------------------------------------------------------

    def flush(self) -> int:
        """Write everything buffered now; returns the number of events written."""
        written = 0
        with self._flush_lock:
            while True:
                events = self.buffer.take(MAX_BATCH)
                if not events:
                    self._report_backlog()
                    return written
                try:
                    written += self._write(events)
                except DBAPIError:
                    # The database is away: keep the events for the next flush.
                    self.buffer.give_back(events)
                    raise
                if len(events) < MAX_BATCH:
                    self._report_backlog()
                    return written

    def _write(self, events: Sequence[FunnelEvent]) -> int:
        rows = [event.row() for event in events]
        try:
            self._insert(rows)
        except IntegrityError:
            # A quiz (or question) was deleted after its event was taken: write the rest.
            rows = self._still_valid(rows)
            if rows:
                self._insert(rows)
        return len(rows)

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as connection:
            connection.execute(insert(FUNNEL), rows)
            for observer in self.observers:
                observer(connection, rows)

    def _still_valid(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        quiz_ids = {row["quiz_id"] for row in rows}
        question_ids = {row["question_id"] for row in rows if row["question_id"] is not None}
        with self.engine.connect() as connection:
            quizzes = set(connection.scalars(select(QuizModel.id).where(QuizModel.id.in_(quiz_ids))))
            questions = (
                set(connection.scalars(select(QuizQuestion.id).where(QuizQuestion.id.in_(question_ids))))
                if question_ids
                else set()
            )
        kept = []
        for row in rows:
            if row["quiz_id"] not in quizzes:
                continue
            if row["question_id"] is not None and row["question_id"] not in questions:
                row = {**row, "question_id": None}
            kept.append(row)
        return kept

    def _ensure_writer(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid != os.getpid():
                # A forked worker: nothing of the parent's thread or buffer is ours.
                self._pid = os.getpid()
                self._thread = None
                self._flush_lock = threading.Lock()
                self.buffer.after_fork()
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="quiz-funnel-recorder", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                log.exception("could not write quiz funnel events; they stay buffered")

    def close(self) -> None:
        """Stop the writer thread and write what is left (process exit)."""
        if self._pid != os.getpid():
            return
        self._stopping = True
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        try:
            self.flush()
        except Exception:
            log.exception("could not write the last quiz funnel events")
