"""A MariaDB server of the test's own, in a temp dir, that the test may stop and start."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from foundation.helpers import free_port

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"


class PrivateMariaDB:
    def __init__(self, base: Path, server_options: tuple[str, ...] = ()) -> None:
        self.base = base
        # More mariadbd options, e.g. --ssl-cert and --ssl-key for a server that offers TLS.
        self.server_options = list(server_options)
        self.datadir = base / "data"
        self.socket = base / "mariadb.sock"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.user_options = ["--user=root"] if os.geteuid() == 0 else []

    @staticmethod
    def available() -> bool:
        return Path(MARIADBD).exists() and Path(INSTALL_DB).exists()

    @property
    def server_url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}"

    def install(self) -> None:
        subprocess.run(
            [
                INSTALL_DB,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *self.user_options,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        self.process = subprocess.Popen(
            [
                MARIADBD,
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--socket={self.socket}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
                f"--pid-file={self.base / 'mariadb.pid'}",
                f"--log-error={self.base / 'error.log'}",
                *self.user_options,
                *self.server_options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.wait_until_ready()

    def wait_until_ready(self, timeout: float = 60) -> None:
        import mariadb

        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                log = (self.base / "error.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"mariadbd exited with {self.process.returncode}: {log}")
            try:
                mariadb.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=2).close()
                return
            except mariadb.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """A clean shutdown, as ``systemctl stop mariadb`` does: connections are closed."""
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.terminate()
            self.process.wait(timeout=60)

    def pause(self) -> None:
        """The server stops answering but keeps its connections open, as when its machine
        is frozen or the network drops packets."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def execute(self, *statements: str) -> None:
        import mariadb

        connection = mariadb.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True)
        try:
            cursor = connection.cursor()
            for statement in statements:
                cursor.execute(statement)
        finally:
            connection.close()
