"""A per-process cache of published quiz definitions for the public pages.

A public page asks the database one cheap question (does the company exist, is it
active, which quiz has this slug, when did either change?); the full definition
(questions, options, outcomes) is loaded again only when that answer changed. Rows
changed within the last two seconds are
never cached: MariaDB keeps DATETIME to the second, so two edits within one second would
otherwise look alike.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orbitflow.models.meta import utcnow

MAX_ENTRIES = 512
SETTLE = timedelta(seconds=2)


@dataclass(frozen=True)
class Entry:
    stamp: tuple[Any, ...]
    value: Any


class DefinitionCache:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._entries: OrderedDict[Any, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: Any, stamp: tuple[Any, ...]) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.stamp != stamp:
                return None
            self._entries.move_to_end(key)
            return entry.value

    def discard(self, key: Any) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def put(self, key: Any, stamp: tuple[Any, ...], value: Any) -> None:
        if any(isinstance(part, datetime) and utcnow() - part < SETTLE for part in stamp):
            return
        with self._lock:
            self._entries[key] = Entry(stamp, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
