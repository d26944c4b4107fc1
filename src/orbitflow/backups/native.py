"""``mariadb-dump`` and the ``mariadb`` client, for MariaDB databases when they are installed.

The password goes to the tools in a private option file, never on the command line, where
every user of the machine could read it in the process list.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from orbitflow.config import DatabaseSettings

DUMP_TOOLS = ("mariadb-dump", "mysqldump")
CLIENT_TOOLS = ("mariadb", "mysql")
CHUNK = 1 << 16


class ToolFailed(RuntimeError):
    """The tool exited non-zero; the message is its last line of errors."""


def find_tool(names: tuple[str, ...]) -> str | None:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


def dump_tool() -> str | None:
    return find_tool(DUMP_TOOLS)


def client_tool() -> str | None:
    return find_tool(CLIENT_TOOLS)


@contextlib.contextmanager
def option_file(settings: DatabaseSettings) -> Iterator[Path]:
    url = settings.url
    lines = ["[client]", f"host={url.host or '127.0.0.1'}", f"port={url.port or 3306}"]
    if url.username:
        lines.append(f"user={url.username}")
    if url.password:
        # Quoted, with the option file's escapes, so any character of a password survives.
        escaped = str(url.password).replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'password="{escaped}"')
    args = settings.connect_args
    if args.get("ssl"):
        lines.append("ssl")
        if args.get("ssl_ca"):
            lines.append(f"ssl-ca={args['ssl_ca']}")
        if args.get("ssl_verify_cert"):
            lines.append("ssl-verify-server-cert")
    folder = tempfile.mkdtemp(prefix="orbitflow-db-")
    path = Path(folder) / "client.cnf"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _last_line(error_output: bytes) -> str:
    lines = [line for line in error_output.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def dump(settings: DatabaseSettings, tool: str, sink: IO[bytes]) -> None:
    """Stream ``mariadb-dump --single-transaction`` of the database into ``sink``."""
    with option_file(settings) as options:
        process = subprocess.Popen(
            [
                tool,
                f"--defaults-extra-file={options}",
                "--single-transaction",
                "--quick",
                "--no-tablespaces",
                "--hex-blob",
                "--default-character-set=utf8mb4",
                "--routines",
                "--triggers",
                str(settings.url.database),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None
        while chunk := process.stdout.read(CHUNK):
            sink.write(chunk)
        errors = process.stderr.read() if process.stderr else b""
        if process.wait() != 0:
            raise ToolFailed(f"{Path(tool).name} failed: {_last_line(errors)}")


def load(settings: DatabaseSettings, tool: str, source: IO[bytes]) -> None:
    """Feed an SQL dump to the ``mariadb`` client connected to the database."""
    with option_file(settings) as options:
        process = subprocess.Popen(
            [tool, f"--defaults-extra-file={options}", "--default-character-set=utf8mb4", str(settings.url.database)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert process.stdin is not None
        try:
            while chunk := source.read(CHUNK):
                process.stdin.write(chunk)
        except BrokenPipeError:
            pass  # the client stopped on an error: its message follows
        finally:
            process.stdin.close()
        errors = process.stderr.read() if process.stderr else b""
        if process.wait() != 0:
            raise ToolFailed(f"{Path(tool).name} failed: {_last_line(errors)}")
