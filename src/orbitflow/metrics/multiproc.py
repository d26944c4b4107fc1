"""The directory prometheus_client's multiprocess mode shares between worker processes.

It must be in the environment before prometheus_client is imported (the library picks its
value store then), and before the server forks its workers, so that every worker writes
its own files into it and any one of them can sum them all at a scrape.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ENV_NAME = "PROMETHEUS_MULTIPROC_DIR"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare_directory() -> Path:
    """PROMETHEUS_MULTIPROC_DIR, or a new private directory when it is unset; files left by
    processes no longer running (an earlier run of the server) are removed, so counters
    start from zero and gauges of dead processes do not linger."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not configured:
        configured = tempfile.mkdtemp(prefix="orbitflow-metrics-")
        os.environ[ENV_NAME] = configured
    directory = Path(configured)
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.db"):
        # Files are named <kind>_<pid>.db (gauges: gauge_<mode>_<pid>.db).
        pid_part = path.stem.rsplit("_", 1)[-1]
        if not pid_part.isdigit():
            continue
        pid = int(pid_part)
        if pid == os.getpid() or not _running(pid):
            path.unlink(missing_ok=True)
    return directory


def process_exited(pid: int) -> None:
    """Forget a process's live gauges: a worker that exited (gunicorn's child_exit), or the
    server's parent once its workers take over (it loaded the app but serves nothing)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
