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
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from orbitflow_plugins.quiz.submissions import Draft, Stored, store_submissions

# Bounds one transaction's size; with waitress's threads the queue rarely holds more.
MAX_BATCH = 64


@dataclass(eq=False)
class _Queued:
    draft: Draft
    done: bool = False
    stored: Stored | None = None
    error: BaseException | None = field(default=None, repr=False)

    def outcome(self) -> Stored:
        if self.error is not None:
            raise self.error
        assert self.stored is not None
        return self.stored


class SubmissionWriter:
    def __init__(self, engine: Engine, secret: str):
        self.engine = engine
        self.secret = secret
        self._changed = threading.Condition()
        self._queue: list[_Queued] = []
        self._writing = False

    def store(self, draft: Draft) -> Stored:
        """Store ``draft`` and its lead; returns once they are committed. Raises what
        storing it alone raised (an :class:`~sqlalchemy.exc.IntegrityError` for a race,
        a database error)."""
        mine = _Queued(draft)
        with self._changed:
            self._queue.append(mine)
            while self._writing and not mine.done:
                self._changed.wait()
            if mine.done:
                return mine.outcome()
            self._writing = True
            batch = self._take(mine)
        try:
            self._write(batch)
        finally:
            with self._changed:
                self._writing = False
                self._changed.notify_all()
        return mine.outcome()

    def _take(self, mine: _Queued) -> list[_Queued]:
        others = [queued for queued in self._queue if queued is not mine][: MAX_BATCH - 1]
        batch = [mine, *others]
        taken = set(map(id, batch))
        self._queue = [queued for queued in self._queue if id(queued) not in taken]
        return batch

    def _write(self, batch: list[_Queued]) -> None:
        try:
            if len(batch) > 1:
                try:
                    self._commit(batch)
                    return
                except Exception:
                    pass  # written one by one below, each with its own outcome
            for queued in batch:
                try:
                    self._commit([queued])
                except Exception as error:
                    queued.error = error
                    queued.done = True
        finally:
            for queued in batch:
                if not queued.done:
                    queued.error = queued.error or RuntimeError("the submission was not stored")
                    queued.done = True

    def _commit(self, batch: list[_Queued]) -> None:
        with self.engine.begin() as connection:
            stored = store_submissions(connection, [queued.draft for queued in batch], secret=self.secret)
        for queued, result in zip(batch, stored, strict=True):
            queued.stored = result
            queued.done = True
