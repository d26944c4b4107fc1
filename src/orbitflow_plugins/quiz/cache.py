"""A per-process cache of published quiz definitions for the public pages.

Two ways to read it:

- :meth:`DefinitionCache.recent` (the quiz page and the step reports, most of the
  traffic) answers from memory without asking the database. Every process checks at most
  once per ``quiz.cache_check_seconds`` (5 by default) whether any quiz or company changed
  since its last check — one small query over both tables (row counts and the latest
  ``updated_at``) — and forgets everything when one did. An edit, a publish or
  unpublish, a company deactivated, on any process or replica, is therefore seen by every
  process within that bound.
- :meth:`DefinitionCache.get` (the submission and its thank-you page) is checked against
  the stamp of the row the caller has just read (when the company and the quiz last
  changed, and the quiz's state), so a submission is never stored against a quiz that is
  no longer published.

Rows changed within the last two seconds are never cached, and a check that sees such a
row forgets everything again: MariaDB keeps DATETIME to the second, so two edits within
one second would otherwise look alike.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from orbitflow.models.meta import utcnow
from orbitflow.tenants.models import Company
from orbitflow_plugins.quiz.models import Quiz

MAX_ENTRIES = 512
SETTLE = timedelta(seconds=2)
DEFAULT_CHECK_SECONDS = 5.0

_QUIZZES, _COMPANIES = Quiz.__table__, Company.__table__
# What any change to a quiz or a company moves: a row added or removed, or a newer updated_at.
TABLES_STAMP = select(
    select(func.count()).select_from(_QUIZZES).scalar_subquery(),
    select(func.max(_QUIZZES.c.updated_at)).scalar_subquery(),
    select(func.count()).select_from(_COMPANIES).scalar_subquery(),
    select(func.max(_COMPANIES.c.updated_at)).scalar_subquery(),
)


@dataclass(frozen=True)
class Entry:
    stamp: tuple[Any, ...]
    value: Any


def _settling(stamp: tuple[Any, ...]) -> bool:
    now = utcnow()
    return any(isinstance(part, datetime) and now - part < SETTLE for part in stamp)


class DefinitionCache:
    def __init__(
        self,
        engine: Engine | None = None,
        check_seconds: float = DEFAULT_CHECK_SECONDS,
        max_entries: int = MAX_ENTRIES,
    ):
        self._entries: OrderedDict[Any, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._checking = threading.Lock()
        self.engine = engine
        self.check_seconds = check_seconds
        self.max_entries = max_entries
        self._tables_stamp: tuple[Any, ...] | None = None
        self._checked_at = float("-inf")
        # Moves on every clear: a value read before a clear is not stored after it.
        self.generation = 0

    def get(self, key: Any, stamp: tuple[Any, ...]) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.stamp != stamp:
                return None
            self._entries.move_to_end(key)
            return entry.value

    def recent(self, key: Any) -> Any | None:
        """The cached value, unless a quiz or company changed since the last check (which
        runs here when it is due, at most every ``check_seconds``)."""
        if self.engine is not None and time.monotonic() - self._checked_at >= self.check_seconds:
            self._check()
        with self._lock:
            entry = self._entries.get(key)
            return None if entry is None else entry.value

    def _check(self) -> None:
        # One thread checks; the others answer from what is cached meanwhile.
        if not self._checking.acquire(blocking=False):
            return
        try:
            with self.engine.connect() as connection:
                stamp = tuple(connection.execute(TABLES_STAMP).one())
            if stamp != self._tables_stamp or _settling(stamp):
                self.clear()
            self._tables_stamp = stamp
            self._checked_at = time.monotonic()
        finally:
            self._checking.release()

    def discard(self, key: Any) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def put(self, key: Any, stamp: tuple[Any, ...], value: Any, generation: int | None = None) -> None:
        """Keep ``value``; ``generation`` is :attr:`generation` from before it was read."""
        if _settling(stamp):
            return
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            self._entries[key] = Entry(stamp, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.generation += 1
