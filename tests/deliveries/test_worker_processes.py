"""Where workers run: a thread in each app process (unless switched off) and dedicated
``orbitflow worker CONFIG`` processes that stop gracefully on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
import webtest
from pluggy import PluginManager
from sqlalchemy import select

from foundation.helpers import ROOT, base_env, run
from orbitflow.app import make_app
from orbitflow.deliveries import Delivery, WorkerThread
from orbitflow.shared import shared


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _attempts(db, delivery_id: int) -> int:
    db.expire_all()
    return db.scalar(select(Delivery.attempts).where(Delivery.id == delivery_id)) or 0


def _status(db, delivery_id: int) -> str:
    db.expire_all()
    return db.scalar(select(Delivery.status).where(Delivery.id == delivery_id))


def test_app_process_runs_a_worker_thread_from_its_first_request(backend, outbox_plugin, add_delivery, db):
    def register(config) -> None:
        shared(config.registry, PluginManager).register(outbox_plugin, name="outbox-probe")

    settings = backend.ini(
        **{"orbitflow.deliveries.worker_thread": "true", "orbitflow.deliveries.poll_seconds": "0.05"}
    )
    app = make_app(settings, environ={}, engine=backend.engine, includes=[register])
    thread = shared(app.registry, WorkerThread)
    try:
        delivery_id = add_delivery()
        assert thread.thread is None, "nothing runs before the first request"
        webtest.TestApp(app).get("/api/health")
        _wait_for(lambda: _status(db, delivery_id) == "delivered")
    finally:
        thread.stop()
    assert not thread.thread.is_alive()


def test_ini_switch_turns_the_worker_thread_off(wsgi_app):
    assert "deliveries.thread" not in wsgi_app.registry


def _worker_env(backend, tmp_path) -> dict[str, str]:
    return base_env(tmp_path, DATABASE_URL=backend.url, ORBITFLOW_PLUGINS="quiz pixels analytics")


@pytest.mark.slow
def test_worker_command_once_sends_what_is_due(backend, add_delivery, db, tmp_path):
    delivery_id = add_delivery(channel="not-installed")
    result = run(["orbitflow", "worker", ROOT / "development.ini", "--once"], _worker_env(backend, tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Handled 1 deliveries." in result.stdout
    db.expire_all()
    delivery = db.get(Delivery, delivery_id)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_excerpt == "no delivery channel named 'not-installed' is enabled"


@pytest.mark.slow
def test_worker_command_stops_gracefully_on_sigterm(backend, add_delivery, db, tmp_path):
    process = subprocess.Popen(
        ["orbitflow", "worker", str(ROOT / "development.ini")],
        env=_worker_env(backend, tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        delivery_id = add_delivery(channel="not-installed")
        _wait_for(lambda: _attempts(db, delivery_id) >= 1, timeout=60)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = process.stderr.read()
    assert code == 0, output
    assert "stopping after the current cycle" in output
    assert _status(db, delivery_id) == "pending", "the claim was recorded, not abandoned"
