"""Group commit for quiz submissions: the ones that arrive together share a transaction.

Ad traffic comes in bursts, and a submission's cost is mostly fixed per transaction (a
dozen statements and the commit's flush to disk), not per row. So the request threads of
one app process queue their checked submissions here; whichever thread finds no write in
progress becomes the writer, takes everything queued (its own submission included) and
stores it with :func:`~orbitflow_plugins.quiz.submissions.store_submissions` in one
transaction, while the next submissions queue up behind it. Nobody waits for a timer:
a lone submission is written at once, a burst is written in a few transactions.

Each request still answers only after its own submission and lead are committed. If a
shared transaction fails (a token posted twice, a deadlock), it is rolled back and each
of its submissions is written again on its own, so one bad submission never fails the
others; the error of one written alone goes back to its own request.

The answers were checked against a cached quiz definition; the transaction that stores
them first reads when each quiz and its company last changed, and a submission whose quiz
changed, was unpublished or whose company was deactivated since is refused with
:class:`QuizChanged` (its request runs again against the current quiz).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import compress
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from orbitflow.db import DatabaseUnavailable, is_database_unavailable, is_retryable
from orbitflow.tenants.models import Company
from orbitflow_plugins.quiz.models import PUBLISHED, Quiz
from orbitflow_plugins.quiz.submissions import Draft, Stored, is_race, store_submissions

QUIZZES = Quiz.__table__
COMPANIES = Company.__table__

# Bounds one transaction's size; with waitress's threads the queue rarely holds more.
MAX_BATCH = 64


class QuizChanged(Exception):
    """The quiz or its company changed after the answers were checked against it."""


class LostRace(Exception):
    """A concurrent submission with the same form token or address committed first."""


class WriteConflict(Exception):
    """A deadlock, a lock wait time-out or a lost connection: worth running the request again."""


def classify(error: Exception) -> Exception:
    """What a request makes of a failed write: :class:`QuizChanged`, :class:`LostRace` and
    :class:`WriteConflict` mean "run the request again", :class:`DatabaseUnavailable`
    means 503; anything else is a server error."""
    if isinstance(error, IntegrityError) and is_race(error):
        return LostRace(str(error.orig))
    if isinstance(error, DBAPIError) and is_retryable(error):
        return WriteConflict(str(error.orig))
    if is_database_unavailable(error):
        return DatabaseUnavailable(str(error))
    return error


STAMPS = (
    select(QUIZZES.c.id, COMPANIES.c.updated_at, QUIZZES.c.updated_at, QUIZZES.c.status)
    .join(COMPANIES, COMPANIES.c.id == QUIZZES.c.company_id)
    .where(
        QUIZZES.c.id.in_(bindparam("quiz_ids", expanding=True)), QUIZZES.c.status == PUBLISHED, COMPANIES.c.is_active
    )
)


def current_stamps(connection: Connection, quiz_ids: Iterable[int]) -> dict[int, tuple[Any, ...]]:
    """The stamp (see :attr:`Draft.stamp`) of each published quiz of an active company."""
    rows = connection.execute(STAMPS, {"quiz_ids": sorted(set(quiz_ids))})
    return {quiz_id: (company_changed, quiz_changed, status) for quiz_id, company_changed, quiz_changed, status in rows}


Outcome = Stored | Exception


@dataclass(eq=False)
class _Queued:
    draft: Draft
    done: bool = False
    outcome: Outcome | None = field(default=None, repr=False)

    def result(self) -> Stored:
        if isinstance(self.outcome, Exception):
            raise classify(self.outcome) from self.outcome
        if self.outcome is None:
            raise RuntimeError("the submission was not stored")
        return self.outcome


class SubmissionStore(Protocol):
    """What stores a submission: one per app process."""

    def store(self, draft: Draft) -> Stored: ...


class SubmissionWriter:
    """Writes submissions from the request threads, one transaction at a time."""

    # The writer keeps its connection between transactions, handing it back to the pool
    # (which checks and recycles connections) after this long unused.
    IDLE_SECONDS = 30.0

    def __init__(self, engine: Engine, secret: str):
        self.engine = engine
        self.secret = secret
        self._changed = threading.Condition()
        self._queue: list[_Queued] = []
        self._writing = False
        self._connection: Connection | None = None
        self._last_used = 0.0

    def store(self, draft: Draft) -> Stored:
        """Store ``draft`` and its lead; returns once they are committed. Raises what
        storing it alone raised, through :func:`classify`."""
        mine = _Queued(draft)
        with self._changed:
            self._queue.append(mine)
            while self._writing and not mine.done:
                self._changed.wait()
            if mine.done:
                return mine.result()
            self._writing = True
            batch = self._take(mine)
        try:
            for queued, outcome in zip(batch, self.write_together([queued.draft for queued in batch]), strict=True):
                queued.outcome = outcome
        finally:
            with self._changed:
                for queued in batch:
                    queued.done = True
                self._writing = False
                self._changed.notify_all()
        return mine.result()

    def _take(self, mine: _Queued) -> list[_Queued]:
        others = [queued for queued in self._queue if queued is not mine][: MAX_BATCH - 1]
        batch = [mine, *others]
        self._queue = [queued for queued in self._queue if queued not in batch]
        return batch

    def write_together(self, drafts: list[Draft]) -> list[Outcome]:
        """Store ``drafts`` in one transaction or, when that fails, each in its own; one
        outcome per draft: what was stored, or the exception storing it alone raised."""
        if len(drafts) > 1:
            try:
                return self._commit(drafts)
            except Exception:
                pass  # written one by one below, each with its own outcome
        outcomes: list[Outcome] = []
        for draft in drafts:
            try:
                outcomes += self._commit([draft])
            except Exception as error:
                outcomes.append(error)
        return outcomes

    def _commit(self, drafts: list[Draft]) -> list[Outcome]:
        with self._transaction() as connection:
            checked = [draft for draft in drafts if draft.stamp is not None]
            stamps = current_stamps(connection, {draft.quiz_id for draft in checked}) if checked else {}
            current = [draft.stamp is None or stamps.get(draft.quiz_id) == draft.stamp for draft in drafts]
            stored = iter(store_submissions(connection, list(compress(drafts, current)), secret=self.secret))
        return [
            next(stored) if is_current else QuizChanged(f"quiz {draft.quiz_id} changed")
            for draft, is_current in zip(drafts, current, strict=True)
        ]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        connection = self._connection
        if connection is not None and time.monotonic() - self._last_used > self.IDLE_SECONDS:
            connection.close()
            connection = None
        if connection is None:
            connection = self._connection = self.engine.connect()
        try:
            with connection.begin():
                yield connection
        except BaseException:
            # Back to the pool, which drops it if it broke; the next transaction takes another.
            self._connection = None
            connection.close()
            raise
        finally:
            self._last_used = time.monotonic()
