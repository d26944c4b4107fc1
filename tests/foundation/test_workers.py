"""Several waitress processes on one socket: each answers, a dead one is replaced, all stop together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from foundation.helpers import ROOT, free_port
from orbitflow.config import ConfigError
from orbitflow.server import worker_count

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="workers need fork()")

SERVER = textwrap.dedent(
    """
    import os, sys
    from orbitflow.workers import serve_in_workers

    def app(environ, start_response):
        if os.environ.get("BROKEN_WORKER"):
            raise SystemExit(3)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(os.getpid()).encode()]

    def on_fork(app):
        if os.environ.get("BROKEN_WORKER"):
            raise RuntimeError("cannot start")

    serve_in_workers(app, f"127.0.0.1:{sys.argv[1]}", 2, {"threads": 2}, on_fork=on_fork, startup_seconds=0.5)
    """
)


def start(port: int, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def pid_answering(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return int(response.read())
    except OSError:
        return None


def pids_seen(port: int, wanted: int, seconds: float = 20) -> set[int]:
    seen: set[int] = set()
    deadline = time.monotonic() + seconds
    while len(seen) < wanted and time.monotonic() < deadline:
        pid = pid_answering(port)
        if pid is None:
            time.sleep(0.05)
        else:
            seen.add(pid)
    return seen


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    if int(handle.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.add(int(entry))
            except (OSError, ValueError):
                continue
    return found


def test_two_workers_answer_a_dead_one_is_replaced_and_sigterm_stops_them_all():
    port = free_port()
    server = start(port)
    try:
        workers = pids_seen(port, 2)
        assert len(workers) == 2 and server.pid not in workers
        assert children_of(server.pid) == workers
        time.sleep(0.6)  # past the start-up window: a death now is replaced, not fatal
        victim = sorted(workers)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            current = children_of(server.pid)
            if len(current) == 2 and victim not in current:
                break
            time.sleep(0.05)
        assert len(current) == 2 and victim not in current
        assert pid_answering(port) in current
        server.send_signal(signal.SIGTERM)
        stdout, stderr = server.communicate(timeout=20)
        assert server.returncode == 0, stderr
        assert f"Serving on http://127.0.0.1:{port} with 2 worker processes" in stdout
        assert f"worker {victim} exited" in stderr
        assert all(not os.path.exists(f"/proc/{pid}") for pid in current)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_a_worker_that_cannot_start_stops_the_server():
    port = free_port()
    server = start(port, BROKEN_WORKER="1")
    _, stderr = server.communicate(timeout=30)
    assert server.returncode == 1
    assert "right after it started; stopping the server" in stderr


@pytest.mark.parametrize(
    ("configured", "environ", "expected"),
    [(None, {}, 1), ("3", {}, 3), (None, {"WEB_CONCURRENCY": "4"}, 4), ("2", {"WEB_CONCURRENCY": "8"}, 2)],
)
def test_worker_count_comes_from_the_ini_then_web_concurrency(configured, environ, expected):
    assert worker_count(configured, environ) == expected


@pytest.mark.parametrize(
    ("configured", "environ", "name"), [("0", {}, "workers"), (None, {"WEB_CONCURRENCY": "many"}, "WEB_CONCURRENCY")]
)
def test_a_bad_worker_count_is_refused_with_its_name(configured, environ, name):
    with pytest.raises(ConfigError, match=f"{name} must be a number of processes from 1 to 64"):
        worker_count(configured, environ)
