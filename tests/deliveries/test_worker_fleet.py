"""Dedicated ``orbitflow worker`` processes against a real receiver: two of them share
1,000 due deliveries on MariaDB and send each exactly once; a worker killed mid-send
leaves a claim that another worker takes over once it expires."""

from __future__ import annotations

import collections
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from foundation.helpers import base_env
from orbitflow.db import make_session_factory
from orbitflow.deliveries import Delivery, enqueue
from orbitflow.webhooks import services as webhook_services
from webhooks.hookkit import Answer, Receiver

pytestmark = pytest.mark.slow


def _ini(tmp_path: Path, backend, **settings: str) -> Path:
    lines = [
        "[app:main]",
        "use = egg:orbitflow",
        f"sqlalchemy.url = {backend.url}",
        f"orbitflow.auth_secret = {backend.ini()['orbitflow.auth_secret']}",
        "orbitflow.plugins = quiz pixels analytics",
        "orbitflow.deliveries.worker_thread = false",
        "orbitflow.deliveries.poll_seconds = 0.1",
        *(f"{key} = {value}" for key, value in settings.items()),
    ]
    path = tmp_path / "worker.ini"
    path.write_text("\n".join(lines) + "\n")
    return path


def _start_worker(ini: Path, tmp_path: Path) -> subprocess.Popen:
    env = base_env(tmp_path, WEBHOOKS_ALLOW_PRIVATE_NETWORKS="true")
    return subprocess.Popen(
        ["orbitflow", "worker", str(ini)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
    return process.returncode


def _webhook(db, make_company, receiver: Receiver, encryption):
    company = make_company(name="Fleet Co")
    hook, secret = webhook_services.create_webhook(
        db,
        company_id=company.id,
        created_by_id=None,
        data={"url": receiver.url, "events": ["lead.created"]},
        allow_private=True,
        encryptor=encryption,
    )
    db.commit()
    receiver.secret = secret
    return company, hook


def _count(db, *criteria) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Delivery).where(*criteria))


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


def test_two_worker_processes_send_each_of_1000_deliveries_once(backend, db, make_company, encryption, tmp_path):
    if backend.name != "mariadb":
        pytest.skip("several workers share the outbox on MariaDB (SQLite runs one)")
    receiver = Receiver().start()
    try:
        company, hook = _webhook(db, make_company, receiver, encryption)
        session = make_session_factory(backend.engine)()
        session.info["tenant_bypass"] = True
        with session.begin():
            for number in range(1000):
                enqueue(
                    session,
                    company_id=company.id,
                    channel="webhook",
                    destination=hook.destination,
                    payload={"type": "lead.created", "timestamp": "2026-12-02T00:00:00Z", "data": {"n": number}},
                    event_id=f"evt_fleet_{number}",
                )
        session.close()
        ini = _ini(tmp_path, backend, **{"orbitflow.deliveries.batch_size": "10"})
        workers = [_start_worker(ini, tmp_path) for _ in range(2)]
        try:
            _wait(lambda: _count(db, Delivery.status == "delivered") == 1000, timeout=300)
        finally:
            codes = [_stop(worker) for worker in workers]
        assert codes == [0, 0], [worker.stderr.read() for worker in workers]
        ids = collections.Counter(request.headers["webhook-id"] for request in receiver.received)
        assert len(ids) == 1000 and set(ids.values()) == {1}, "every delivery arrived exactly once"
        assert all(request.verified for request in receiver.received)
    finally:
        receiver.stop()


def test_a_killed_workers_claim_is_sent_by_another_after_it_expires(backend, db, make_company, encryption, tmp_path):
    receiver = Receiver().start()
    try:
        company, hook = _webhook(db, make_company, receiver, encryption)
        receiver.answers.append(Answer(200, b"too late", delay=20))
        session = make_session_factory(backend.engine)()
        session.info["tenant_bypass"] = True
        with session.begin():
            enqueue(
                session,
                company_id=company.id,
                channel="webhook",
                destination=hook.destination,
                payload={"type": "lead.created", "timestamp": "2026-12-02T00:00:00Z", "data": {}},
                event_id="evt_killed_mid_send",
            )
        session.close()
        ini = _ini(
            tmp_path,
            backend,
            **{"orbitflow.deliveries.claim_seconds": "3", "orbitflow.deliveries.http_timeout_seconds": "30"},
        )
        first = _start_worker(ini, tmp_path)
        _wait(lambda: len(receiver.received) == 1, timeout=60)
        first.kill()  # mid-send: the receiver has not answered yet
        first.wait()
        assert _count(db, Delivery.status == "sending") == 1
        second = _start_worker(ini, tmp_path)
        try:
            _wait(lambda: _count(db, Delivery.status == "delivered") == 1, timeout=60)
        finally:
            assert _stop(second) == 0
        assert [request.headers["webhook-id"] for request in receiver.received] == ["evt_killed_mid_send"] * 2
        db.expire_all()
        delivery = db.scalars(select(Delivery)).one()
        assert delivery.attempts == 2
    finally:
        receiver.stop()
