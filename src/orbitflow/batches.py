"""Work a request hands over and a background thread of the process writes in batches.

A :class:`BatchWriter` keeps what requests :meth:`~BatchWriter.record` in a buffer, and a
thread of its own (started by the first record of each process, so a forked worker starts
its own) writes what has gathered at most every ``interval`` seconds, in batches of at most
``max_batch`` items; whatever is left is written when the process stops (register
:meth:`~BatchWriter.close` with :func:`orbitflow.lifecycle.on_shutdown`). A subclass says
how a batch is written (:meth:`~BatchWriter.write`).

The buffer is the process's memory (:class:`MemoryBuffer`), or a Redis list
(:class:`RedisBuffer`): then items survive the crash of the process that took them, and
any process's flush writes them. A batch whose write fails with a database error goes
back to the buffer for the next flush.

The quiz plugin's funnel-event recorder and the analytics plugin's rollups are the two
writers.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, Protocol, TypeVar

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_INTERVAL = 1.0
# Items kept while the database cannot be written; beyond that the oldest are dropped.
MAX_BUFFERED = 200_000


class Buffer(Protocol[T]):
    """Where items wait for the next flush."""

    def push(self, item: T) -> None: ...

    def take(self, limit: int) -> list[T]:
        """Remove and return up to ``limit`` of the oldest items."""
        ...

    def give_back(self, items: Sequence[T]) -> None:
        """Return items whose write failed, to be tried again by the next flush."""
        ...

    def after_fork(self) -> None: ...

    def __len__(self) -> int: ...


class MemoryBuffer(Generic[T]):
    """The process's own buffer: a deque (appends and pops are atomic in CPython)."""

    def __init__(self) -> None:
        self._items: deque[T] = deque(maxlen=MAX_BUFFERED)

    def push(self, item: T) -> None:
        self._items.append(item)

    def take(self, limit: int) -> list[T]:
        taken = []
        pop = self._items.popleft
        try:
            for _ in range(limit):
                taken.append(pop())
        except IndexError:
            pass
        return taken

    def give_back(self, items: Sequence[T]) -> None:
        self._items.extendleft(reversed(items))

    def after_fork(self) -> None:
        # What the parent had buffered is the parent's to write.
        self._items = deque(maxlen=MAX_BUFFERED)

    def __len__(self) -> int:
        return len(self._items)


class RedisBuffer(Generic[T]):
    """A Redis list shared by every process and replica: ``RPUSH`` per item, ``LPOP n``
    per flush (atomic, so two flushing processes never take the same item). Items are
    kept as their ``to_json()`` and read back with ``decode``."""

    def __init__(self, url: str, key: str, decode: Callable[[str | bytes], T]) -> None:
        import redis

        self.url = url
        self.key = key
        self.decode = decode
        self._client = redis.Redis.from_url(url)

    def push(self, item: T) -> None:
        self._client.rpush(self.key, item.to_json())  # type: ignore[attr-defined]

    def take(self, limit: int) -> list[T]:
        raw = self._client.lpop(self.key, limit) or []
        return [self.decode(entry) for entry in raw]

    def give_back(self, items: Sequence[T]) -> None:
        if items:
            self._client.lpush(self.key, *[item.to_json() for item in reversed(items)])  # type: ignore[attr-defined]

    def after_fork(self) -> None:
        # Connections must not be shared with the parent.
        self._client.connection_pool.reset()

    def __len__(self) -> int:
        return int(self._client.llen(self.key))


class BatchWriter(Generic[T]):
    """One per app process and kind of item. :meth:`record` only appends; the writer
    thread does the writing."""

    #: The writer thread's name.
    name = "batch-writer"
    #: Items per :meth:`write`; a bigger backlog takes several in a row.
    max_batch = 2000

    def __init__(self, buffer: Buffer[T], interval: float = DEFAULT_INTERVAL) -> None:
        self.buffer = buffer
        self.interval = interval
        self._pid = os.getpid()
        self._start_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False
        # Told this process's backlog after each item and flush (a metrics gauge), for a
        # buffer of this process's own; a shared buffer is measured at the scrape.
        self.on_backlog: Callable[[int], None] | None = None

    def write(self, items: list[T]) -> int:
        """Write one batch; returns how many items were written. A database error puts
        the batch back for the next flush."""
        raise NotImplementedError

    # -- taking items -------------------------------------------------------------------

    def record(self, item: T) -> None:
        self._ensure_writer()
        self.buffer.push(item)
        self._report_backlog()

    def record_many(self, items: Iterable[T]) -> None:
        for item in items:
            self.record(item)

    def _report_backlog(self) -> None:
        if self.on_backlog is not None:
            self.on_backlog(len(self.buffer))

    # -- writing ------------------------------------------------------------------------

    def flush(self) -> int:
        """Write everything buffered now; returns the number of items written."""
        written = 0
        with self._flush_lock:
            while True:
                items = self.buffer.take(self.max_batch)
                if not items:
                    self._report_backlog()
                    return written
                try:
                    written += self.write(items)
                except DBAPIError:
                    # The database is away, or the batch met a concurrent one: next flush.
                    self.buffer.give_back(items)
                    raise
                if len(items) < self.max_batch:
                    self._report_backlog()
                    return written

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
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                log.exception("%s could not write; the items stay buffered", self.name)

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
            log.exception("%s could not write its last items", self.name)
