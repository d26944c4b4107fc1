"""A per-process cache of published quiz definitions for the public pages.

Two ways to read it:

- :meth:`DefinitionCache.recent` (the quiz page and the step reports, most of the
  traffic) answers from memory without asking the database. Every process checks at most
  once per ``quiz.cache_check_seconds`` (5 by default) whether any quiz or company, or a
  row of a table the plugins' page scripts read (the ``public_page_tables`` hook: the
  pixel settings), changed since its last check — one small query over those tables (row
  counts and the latest ``updated_at``) — and forgets everything when one did. An edit, a
  publish or unpublish, a company deactivated, pixel settings saved, on any process or
  replica, is therefore seen by every process within that bound. What is kept with a
  definition (the page rendered once for every visitor, :mod:`orbitflow_plugins.quiz.page`)
  goes with it.
- :meth:`DefinitionCache.get` (the submission and its thank-you page) is checked against
  the stamp of the row the caller has just read (when the company and the quiz last
  changed, and the quiz's state), so a submission is never stored against a quiz that is
  no longer published.

Rows changed within the last two seconds are never cached, and a check that sees such a
row forgets everything, and so does the check after it: MariaDB keeps DATETIME to the
second, so two edits within one second would otherwise look alike.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Engine

from orbitflow.companycache import settling, tables_stamp
from orbitflow.tenants.models import Company
from orbitflow_plugins.quiz.models import Quiz

MAX_ENTRIES = 512
DEFAULT_CHECK_SECONDS = 5.0

DEFINITION_TABLES: tuple[Table, ...] = (Quiz.__table__, Company.__table__)


@dataclass(frozen=True)
class Entry:
    stamp: tuple[Any, ...]
    value: Any


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
        self._stamp_query = tables_stamp(DEFINITION_TABLES)
        self._tables_stamp: tuple[Any, ...] | None = None
        self._was_settling = False
        self._checked_at = float("-inf")
        # Moves on every clear: a value read before a clear is not stored after it.
        self.generation = 0

    def watch(self, tables: list[Table]) -> None:
        """Check these tables too (beside the quizzes and companies), at start-up."""
        self._stamp_query = tables_stamp(DEFINITION_TABLES + tuple(t for t in tables if t not in DEFINITION_TABLES))

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
                stamp = tuple(connection.execute(self._stamp_query).one())
            moving = settling(stamp)
            # After a check that saw a settling row, a second edit within that row's second
            # may have followed what was cached since: forget it once more.
            if stamp != self._tables_stamp or moving or self._was_settling:
                self.clear()
            self._tables_stamp, self._was_settling = stamp, moving
            self._checked_at = time.monotonic()
        finally:
            self._checking.release()

    def discard(self, key: Any) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def put(self, key: Any, stamp: tuple[Any, ...], value: Any, generation: int | None = None) -> None:
        """Keep ``value``; ``generation`` is :attr:`generation` from before it was read."""
        if settling(stamp):
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
