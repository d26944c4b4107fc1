"""DATABASE_REPLICA_URL: reads of safe requests from a read replica, everything else from
the primary.

The request's session is a :class:`RoutingSession`. Its ``get_bind`` sends a statement to
the replica only when all of these hold: the request is safe (GET, HEAD, OPTIONS) and its
browser did not write in the last few seconds (the read-your-writes cookie), the session
has not written (no flush, no INSERT/UPDATE/DELETE, no ``FOR UPDATE``), and the replica is
healthy: reachable and at most ``orbitflow.replica_max_lag_seconds`` behind (MariaDB's
``Seconds_Behind_Master``, checked at most every ``orbitflow.replica_check_seconds`` in a
thread of its own). Otherwise the primary answers, so a stopped or lagging replica costs
nothing but its load; a replica that stops between two checks costs the read that finds
it gone one failed connection attempt, and that read goes to the primary.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from pyramid.request import Request
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select

from orbitflow.config import ConfigError, Settings, parse_int, parse_seconds
from orbitflow.shared import shared

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The browser wrote: its reads go to the primary until this cookie expires.
RECENT_WRITE_COOKIE = "orbitflow_wrote"
ALLOWED_KEY = "replica_allowed"
WROTE_KEY = "wrote"


@dataclass(frozen=True)
class ReplicaSettings:
    max_lag_seconds: int = 5
    check_seconds: float = 2.0
    read_your_writes_seconds: int = 2


def load_replica_settings(settings: Settings) -> ReplicaSettings:
    ini = settings.extra
    return ReplicaSettings(
        max_lag_seconds=parse_int(
            "orbitflow.replica_max_lag_seconds", ini.get("orbitflow.replica_max_lag_seconds"), 5, 0
        ),
        check_seconds=parse_seconds(
            "orbitflow.replica_check_seconds", ini.get("orbitflow.replica_check_seconds"), 2.0, 0.0
        ),
        read_your_writes_seconds=parse_int(
            "orbitflow.replica_read_your_writes_seconds", ini.get("orbitflow.replica_read_your_writes_seconds"), 2, 1
        ),
    )


class Replica:
    """The replica's engine and its last known state ("ok", "lagging" or "error").

    A due check runs in a thread of its own: no request waits for a replica that is slow
    to answer (or drops packets); requests keep the last known state meanwhile, and read
    from the primary until the first check has found the replica usable."""

    def __init__(self, engine: Engine, settings: ReplicaSettings) -> None:
        self.engine = engine
        self.settings = settings
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._state = "error"
        # The process whose thread is checking now: a forked worker starts its own.
        self._checking_in: int | None = None
        # Bumped by mark_down: a check that started before it does not undo it.
        self._generation = 0

    def state(self) -> str:
        if time.monotonic() - self._checked_at >= self.settings.check_seconds:
            self._start_check()
        return self._state

    def usable(self) -> bool:
        return self.state() == "ok"

    def mark_down(self) -> None:
        """A request could not connect: skip the replica until the next check."""
        with self._lock:
            self._generation += 1
            self._state = "error"
            self._checked_at = time.monotonic()

    def _start_check(self) -> None:
        pid = os.getpid()
        with self._lock:
            if self._checking_in == pid:
                return
            self._checking_in = pid
            generation = self._generation
        try:
            threading.Thread(
                target=self._run_check, args=(generation,), name="orbitflow-replica-check", daemon=True
            ).start()
        except BaseException:
            self._checking_in = None  # the next request tries again
            raise

    def _run_check(self, generation: int) -> None:
        state = "error"
        try:
            state = self._check()
        finally:
            with self._lock:
                if self._generation == generation:
                    self._state = state
                    self._checked_at = time.monotonic()
                self._checking_in = None

    def _check(self) -> str:
        try:
            with self.engine.connect() as connection:
                row = connection.execute(text("SHOW SLAVE STATUS")).mappings().first()
        except ConfigError as error:
            log.warning("read replica refused: %s", error)  # e.g. TLS demanded, none offered
            return "error"
        except Exception as error:
            log.warning("read replica unreachable: %s", error.__class__.__name__)
            return "error"
        if row is None:
            return "ok"  # not a replication replica (a copy kept in step some other way)
        lag = row.get("Seconds_Behind_Master")
        if lag is None or int(lag) > self.settings.max_lag_seconds:
            log.warning("read replica lagging: Seconds_Behind_Master=%s", lag)
            return "lagging"
        return "ok"


def _writes(clause) -> bool:
    if clause is None:
        return False
    if isinstance(clause, UpdateBase):
        return True
    return isinstance(clause, Select) and clause._for_update_arg is not None


class RoutingSession(Session):
    """Reads to the replica when allowed (see the module), everything else to the primary."""

    replica: Replica | None = None

    def get_bind(self, mapper=None, clause=None, **kw):
        primary = super().get_bind(mapper=mapper, clause=clause, **kw)
        if self._flushing or _writes(clause):
            self.info[WROTE_KEY] = True
            return primary
        if self.replica is None or not self.info.get(ALLOWED_KEY) or self.info.get(WROTE_KEY):
            return primary
        if not self.replica.usable():
            return primary
        try:
            # Connect now (or reuse this transaction's connection to it): a replica that
            # went away since its last check sends this read, and the next, to the primary.
            self.connection(bind_arguments={"bind": self.replica.engine})
        except (DBAPIError, ConfigError) as error:
            log.warning("read replica unreachable, reading from the primary: %s", error.__class__.__name__)
            self.replica.mark_down()
            return primary
        return self.replica.engine


def allow_replica(request: Request, session: Session) -> None:
    """Let the request's reads go to the replica when the request and browser allow it."""
    if request.method in SAFE_METHODS and RECENT_WRITE_COOKIE not in request.cookies:
        session.info[ALLOWED_KEY] = True
    request.add_response_callback(_remember_writes(session))


def _remember_writes(session: Session):
    def callback(request: Request, response) -> None:
        if request.method in SAFE_METHODS and not session.info.get(WROTE_KEY):
            return
        seconds = shared(request.registry, Replica).settings.read_your_writes_seconds
        response.set_cookie(RECENT_WRITE_COOKIE, "1", max_age=seconds, path="/", httponly=True, samesite="Lax")

    return callback


def make_replica(settings: Settings) -> Replica | None:
    """The replica of DATABASE_REPLICA_URL (its own options and TLS demand), or None."""
    if settings.database.replica is None:
        return None
    from orbitflow.db import make_engine

    return Replica(make_engine(settings.database.replica), load_replica_settings(settings))
