"""Running OrbitFlow's console scripts the way operators do: as processes, with an
environment the test controls."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The bin directory of the environment running the tests (the checkout's .venv).
VENV_BIN = Path(sys.executable).parent
TEST_SECRET = "foundation-secret-0123456789-abcdefghijkl"
ALL_PLUGINS = "quiz pixels analytics"
REQUIRE_MARIADB = os.environ.get("ORBITFLOW_REQUIRE_MARIADB") == "1"


@functools.cache
def password_hash() -> str:
    """The hash of ``support.PASSWORD``, computed once (argon2 is slow on purpose)."""
    from orbitflow.accounts.passwords import hash_password
    from support import PASSWORD

    return hash_password(PASSWORD)


def base_env(home: Path, **extra: str | None) -> dict[str, str]:
    """A minimal environment: nothing of the developer's shell leaks into the process."""
    env = {
        "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    # The code under test, when it is not the installed one (a second checkout).
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    # Coverage measures the processes the tests start (its subprocess patch, the data file).
    env.update({key: value for key, value in os.environ.items() if key.startswith("COVERAGE_")})
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run(
    args: list[str | Path], env: dict[str, str], cwd: Path, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(arg) for arg in args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args: list[str | Path], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    """Start a server (``pserve ...``) with its output piped, for :func:`stop` to collect."""
    return subprocess.Popen(
        [str(arg) for arg in args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 60) -> tuple[int, bytes]:
    """GET ``url`` until the server answers; fails early when the server process dies."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop(process: subprocess.Popen) -> str:
    """Stop a server started with stdout/stderr pipes; returns what it printed."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    output = ""
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            output += stream.read() or ""
    return output


def nonblank_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def env_without_module(env: dict[str, str], tmp_path: Path, module: str) -> dict[str, str]:
    """``env`` with a PYTHONPATH entry whose sitecustomize makes ``import <module>`` fail,
    as on a machine where the package is not installed."""
    folder = tmp_path / f"without-{module}"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(f"import sys\n\nsys.modules[{module!r}] = None\n")
    path = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH")]))
    return {**env, "PYTHONPATH": path}
