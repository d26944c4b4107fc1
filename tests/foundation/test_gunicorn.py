"""production.ini's server: gunicorn through ``pserve``, as operators run it.

Each test starts ``pserve production.ini`` (or a copy with one setting changed) on a
SQLite database with the demo data, and looks at it from outside: HTTP, the process
table, the log lines, the rows written.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from foundation.helpers import (
    ROOT,
    TEST_SECRET,
    base_env,
    free_port,
    nonblank_lines,
    run,
    start_server,
    stop,
    wait_for_http,
)

pytestmark = pytest.mark.slow

PRODUCTION_INI = ROOT / "production.ini"
GRACEFUL_TIMEOUT = 30  # production.ini's graceful_timeout


def production(tmp_path: Path, ini: Path = PRODUCTION_INI, **env: str) -> tuple[subprocess.Popen, int, Path]:
    database = tmp_path / "orbitflow.sqlite"
    port = free_port()
    environment = base_env(
        tmp_path,
        DATABASE_URL=f"sqlite:///{database}",
        AUTH_SECRET=TEST_SECRET,
        AUTH_URL="http://localhost",
        PORT=str(port),
        LOG_FORMAT="json",
        **env,
    )
    created = run(["initializedb", ini, "--demo"], environment, cwd=tmp_path, timeout=180)
    assert created.returncode == 0, created.stderr
    server = start_server(["pserve", ini], environment, tmp_path)
    status, _ = wait_for_http(f"http://127.0.0.1:{port}/api/health", server, timeout=90)
    assert status == 200
    return server, port, database


def children_of(pid: int) -> set[int]:
    listed = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {int(line) for line in listed.split()}


def get(port: int, path: str, request_id: str = "") -> int:
    headers = {"X-Request-ID": request_id} if request_id else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        return response.status


def log_lines(output: str) -> list[dict]:
    # pserve prints a plain line as it starts and as each process exits.
    return [json.loads(line) for line in nonblank_lines(output) if line.startswith("{")]


def wait_until(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_two_workers_answer_and_a_killed_worker_is_replaced(tmp_path):
    server, port, _ = production(tmp_path, WEB_CONCURRENCY="2")
    try:
        workers = children_of(server.pid)
        assert len(workers) == 2 and server.pid not in workers
        # Concurrent clients, a connection each: both workers take requests.
        threads = [
            threading.Thread(target=lambda n=n: [get(port, "/api/health", f"two-workers-{n}-{i}") for i in range(6)])
            for n in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

        victim = sorted(workers)[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(children_of(server.pid)) == 2 and victim not in children_of(server.pid), 60)
        replaced = children_of(server.pid)
        assert victim not in replaced and len(replaced - workers) == 1
        assert get(port, "/api/health") == 200
        assert server.poll() is None
    finally:
        output = stop(server)
    lines = log_lines(output)
    answered_by = {line["pid"] for line in lines if line["logger"] == "orbitflow.access"}
    assert answered_by <= workers | replaced
    assert len(answered_by & workers) == 2, answered_by
    assert any(line["message"] == f"Server listening on port {port} (http://localhost:{port}, bound to 0.0.0.0)"
               for line in lines)  # fmt: skip
    # Several workers with memory:// rate limits: start-up says they count apart.
    assert any("count rate limits each on its own" in line["message"] for line in lines)


def test_sigterm_stops_cleanly_within_the_graceful_timeout_and_flushes_the_funnel(tmp_path):
    # Funnel events wait a minute in each worker, so only the workers' exit writes them.
    ini = tmp_path / "production.ini"
    ini.write_text(
        PRODUCTION_INI.read_text().replace("[app:main]\n", "[app:main]\nquiz.funnel_flush_seconds = 60\n", 1)
    )
    server, port, database = production(tmp_path, ini, WEB_CONCURRENCY="2")
    workers = children_of(server.pid)
    with sqlite3.connect(database) as connection:
        before = connection.execute("SELECT COUNT(*) FROM quiz_funnel_events WHERE kind = 'view'").fetchone()[0]
    for _ in range(5):
        assert get(port, "/q/demo/solar-check") == 200
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=GRACEFUL_TIMEOUT + 10)
    took = time.monotonic() - started
    output = stop(server)
    assert code == 0, output
    assert took < GRACEFUL_TIMEOUT, took
    assert not any(os.path.exists(f"/proc/{pid}") for pid in workers)
    assert "Traceback" not in output
    messages = [line["message"] for line in log_lines(output)]
    assert "Handling signal: term" in messages and "Shutting down: Master" in messages
    with sqlite3.connect(database) as connection:
        after = connection.execute("SELECT COUNT(*) FROM quiz_funnel_events WHERE kind = 'view'").fetchone()[0]
    assert after - before == 5
