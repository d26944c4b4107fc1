"""The replica's known state: a request that could not connect marks it down, and a check
already under way when that happened does not bring it back before the next check."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, event

from orbitflow.replica import Replica, ReplicaSettings

pytestmark = pytest.mark.mariadb_only


def test_a_check_that_started_before_mark_down_does_not_undo_it(backend):
    # The machine's MariaDB stands in for a healthy replica (it replicates from nothing,
    # so a check finds it "ok"); its connections take half a second to open, so the
    # check is still running when a request marks the replica down.
    engine = create_engine(backend.engine.url)
    checking = threading.Event()

    def slow_connect(*_args) -> None:
        checking.set()
        time.sleep(0.5)

    event.listen(engine, "connect", slow_connect)
    replica = Replica(engine, ReplicaSettings(check_seconds=30))
    try:
        assert replica.state() == "error"  # not known to be usable before its first check
        assert checking.wait(5)
        replica.mark_down()
        deadline = time.monotonic() + 5
        while replica._checking_in is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert replica._checking_in is None, "the check did not finish"
        assert not replica.usable()
    finally:
        engine.dispose()


def test_a_check_finds_a_healthy_replica_usable(backend):
    engine = create_engine(backend.engine.url)
    replica = Replica(engine, ReplicaSettings(check_seconds=30))
    try:
        replica.state()
        deadline = time.monotonic() + 5
        while not replica.usable() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert replica.usable()
    finally:
        engine.dispose()
