"""The funnel-event recorder: page views and steps never wait for a database write.

Public quiz pages hand their events (view, start, answer, complete) to the process's
:class:`FunnelRecorder`, a :class:`orbitflow.batches.BatchWriter`: a background thread
writes what has gathered with ONE multi-row ``INSERT`` into ``quiz_funnel_events`` at most
every ``interval`` seconds (one by default); whatever is left is written when the process
stops (:mod:`orbitflow.lifecycle`: ``atexit``, and gunicorn's ``worker_exit``).

The buffer is the process's memory (:class:`~orbitflow.batches.MemoryBuffer`), or a Redis
list when ``REDIS_URL`` is set (:class:`~orbitflow.batches.RedisBuffer`): then events
survive the crash of the process that took them, and any process's flush writes them. Readers count distinct
``session_key`` values per step, so an event that reaches the table twice changes no
number. The loss window is stated in the README: events of at most the last interval
(plus a flush that was being written) when a process is killed without running its exit
hooks, none with Redis unless Redis itself is lost.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from orbitflow.batches import DEFAULT_INTERVAL, BatchWriter, Buffer
from orbitflow.models.meta import utcnow
from orbitflow_plugins.quiz.models import Quiz as QuizModel
from orbitflow_plugins.quiz.models import QuizFunnelEvent, QuizQuestion

FUNNEL = QuizFunnelEvent.__table__
# One INSERT holds at most this many rows; a bigger backlog takes several in a row.
MAX_BATCH = 2000
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


class FunnelRecorder(BatchWriter[FunnelEvent]):
    """One per app process (:class:`orbitflow.batches.BatchWriter`): :meth:`record` only
    appends; the writer thread inserts each batch."""

    name = "quiz-funnel-recorder"
    max_batch = MAX_BATCH

    def __init__(self, engine: Engine, buffer: Buffer[FunnelEvent], interval: float = DEFAULT_INTERVAL) -> None:
        super().__init__(buffer, interval)
        self.engine = engine
        self._seen: OrderedDict[tuple[Any, ...], None] = OrderedDict()
        self._seen_lock = threading.Lock()
        # Called with (connection, rows) inside the transaction that writes each batch, so
        # what is derived from the events (daily counts) is written exactly when they are.
        self.observers: list[Callable[[Connection, list[dict[str, Any]]], None]] = []

    # -- steps seen ----------------------------------------------------------------------

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

    def write(self, events: list[FunnelEvent]) -> int:
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
