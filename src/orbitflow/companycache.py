"""A per-process cache of the small per-company settings that every change's transaction
reads: who subscribed to webhooks, who gets lead e-mails, the ad pixels' server-event
settings, which quizzes send a thank-you e-mail.

Define a reader once, at import time, with the tables its value comes from, and call it
with the session and the company::

    subscriptions = CompanyReader("webhooks.subscriptions", [Webhook.__table__], load)
    subscriptions(session, company_id)   # load(session, company_id) on a miss

Values are plain immutable data (tuples, frozen dataclasses), never ORM objects: one value
serves every thread of the process. How long a value can be behind:

- **This process**: not after the writer's request. A transaction that wrote a watched
  table (ORM flush or Core statement) clears the cache as it commits, and again when its
  connection goes back to the pool.
- **Other processes and replicas**: at most ``CHECK_SECONDS`` (5). At most that often,
  the first reader runs one small query over the watched tables (row count and latest
  ``updated_at``/``created_at`` of each) and clears the cache when anything moved.

Rows changed within the last two seconds are never cached: DATETIME keeps seconds, so
two edits within one second would look alike to the check. While a check has seen such a
row, readers read through to the database until a later check sees them settled.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, Table, event, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool
from sqlalchemy.sql.dml import UpdateBase

from orbitflow.models.meta import utcnow

T = TypeVar("T")

CHECK_SECONDS = 5.0
SETTLE = timedelta(seconds=2)
MAX_ENTRIES = 4096
_DIRTY = "orbitflow.companycache.dirty"
_COMMITTED = "orbitflow.companycache.committed"

# Table name -> table, for every table a reader's value comes from.
_WATCHED: dict[str, Table] = {}


class _Cache:
    """The cached values of one database (engine), for every reader."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.lock = threading.Lock()
        self.checking = threading.Lock()
        self.entries: dict[tuple[str, int], Any] = {}
        # Moves on every clear: a value read before a clear is not kept after it.
        self.generation = 0
        self.stamp: tuple[Any, ...] | None = None
        self.checked_at = float("-inf")
        self.settled = False

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.generation += 1

    def check(self) -> None:
        # One thread checks; the others go on with what is cached meanwhile.
        if not self.checking.acquire(blocking=False):
            return
        try:
            tables = sorted(_WATCHED.values(), key=lambda table: table.name)
            with self.engine.connect() as connection:
                stamp = tuple(connection.execute(tables_stamp(tables)).one())
            settled = not settling(stamp)
            if stamp != self.stamp or not settled:
                self.clear()
            self.stamp, self.settled = stamp, settled
            self.checked_at = time.monotonic()
        finally:
            self.checking.release()


def tables_stamp(tables: Iterable[Table]) -> Select:
    """What any change to a row of ``tables`` moves: a row added or removed, or a newer
    ``updated_at`` (``created_at`` for a table whose rows are never updated)."""
    parts = []
    for table in tables:
        parts.append(select(func.count()).select_from(table).scalar_subquery())
        changed = table.c.get("updated_at", table.c.get("created_at"))
        if changed is not None:
            parts.append(select(func.max(changed)).scalar_subquery())
    return select(*parts)


def settling(stamp: tuple[Any, ...]) -> bool:
    """Whether a row of the stamp changed within ``SETTLE``: DATETIME keeps seconds, so a
    second change within the same second would not move the stamp."""
    now = utcnow()
    return any(isinstance(part, datetime) and now - part < SETTLE for part in stamp)


_caches: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache_of(engine: Engine) -> _Cache:
    cache = _caches.get(engine)
    if cache is None:
        with _caches_lock:
            cache = _caches.setdefault(engine, _Cache(engine))
    return cache


def forget(engine: Engine) -> None:
    """Drop what is cached for ``engine``'s database and check it again at the next read."""
    cache = _cache_of(engine)
    cache.checked_at = float("-inf")
    cache.clear()


class CompanyReader(Generic[T]):
    """One kind of cached per-company value; see the module docstring."""

    def __init__(self, name: str, tables: Iterable[Table], load: Callable[[Session, int], T]):
        self.name = name
        self.load = load
        for table in tables:
            _WATCHED[table.name] = table

    def __call__(self, session: Session, company_id: int) -> T:
        bind = session.get_bind()
        cache = _cache_of(getattr(bind, "engine", bind))
        if time.monotonic() - cache.checked_at >= CHECK_SECONDS:
            cache.check()
        key = (self.name, company_id)
        with cache.lock:
            if key in cache.entries:
                return cache.entries[key]
            generation = cache.generation
        value = self.load(session, company_id)
        # Not what this transaction is about to change: only committed rows are kept.
        if cache.settled and not _writes_pending(session):
            with cache.lock:
                if generation == cache.generation:
                    if len(cache.entries) >= MAX_ENTRIES:
                        cache.entries.clear()
                    cache.entries[key] = value
        return value


def _writes_pending(session: Session) -> bool:
    """Whether this transaction wrote a watched table (the value may be uncommitted)."""
    if not session.in_transaction():
        return False
    return bool(session.connection().info.get(_DIRTY))


@event.listens_for(Engine, "after_execute")
def _note_write(connection: Connection, clause, *_args) -> None:
    if isinstance(clause, UpdateBase):
        table = getattr(clause, "table", None)
        if table is not None and getattr(table, "name", None) in _WATCHED:
            connection.info.setdefault(_DIRTY, set()).add(table.name)


@event.listens_for(Engine, "commit")
def _committing(connection: Connection) -> None:
    # Called just before the database commits: clear now, and once more when the
    # connection goes back to the pool (after the commit), for a reader in between.
    if connection.info.pop(_DIRTY, None):
        cache = _cache_of(connection.engine)
        cache.clear()
        connection.info[_COMMITTED] = cache


@event.listens_for(Engine, "rollback")
def _rolled_back(connection: Connection) -> None:
    # An invalidated connection (lost mid-query) takes its info with it.
    if not connection.invalidated:
        connection.info.pop(_DIRTY, None)


@event.listens_for(Pool, "checkin")
def _returned(_dbapi_connection, record) -> None:
    cache = record.info.pop(_COMMITTED, None) if record is not None else None
    if cache is not None:
        cache.clear()
