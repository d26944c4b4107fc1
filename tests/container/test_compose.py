"""docker-compose.yml brought up with podman-compose from a .env made of .env.example: the
app and a MariaDB service (built from the same Debian base with Debian's mariadb-server, as
no registry is reachable), the app migrating on start and answering through the published
port, and docs/deployment.md's backup and restore commands."""

from __future__ import annotations

import os
import re
import shutil
import urllib.request
import uuid
from pathlib import Path

import pytest

from foundation.helpers import ROOT, VENV_BIN, free_port, run, wait_for_http
from support import PASSWORD

pytestmark = pytest.mark.slow
SECRET = "compose-secret-0123456789-abcdefghijklmnopq"
ROOT_PASSWORD = "compose-root-pass"
METRICS_TOKEN = "compose-metrics-token"
BACKUP = "orbitflow_20260101_020000.sql.gz"


class StillStarting:
    """The compose project has no single process to watch: wait for the port alone."""

    returncode = None

    def poll(self):
        return None


def operator_directory(tmp_path: Path, port: int, app_image: str, mariadb_image: str) -> Path:
    """What an operator has on the server: docker-compose.yml and a .env made from
    .env.example (the image is already built, so compose does not build it again)."""
    directory = tmp_path / "orbitflow"
    directory.mkdir()
    shutil.copy(ROOT / "docker-compose.yml", directory / "docker-compose.yml")
    settings = {
        "AUTH_SECRET": SECRET,
        "AUTH_URL": f"http://localhost:{port}",
        "DB_PASSWORD": "compose-db-pass",
        "DB_ROOT_PASSWORD": ROOT_PASSWORD,
        "APP_BIND": f"127.0.0.1:{port}",
        "APP_IMAGE": app_image,
        "MARIADB_IMAGE": mariadb_image,
        "WEB_CONCURRENCY": "1",
        # Read by the app only: they reach it through env_file.
        "DB_POOL_SIZE": "3",
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        name = line.lstrip("# ").split("=", 1)[0]
        lines.append(f"{name}={settings.pop(name)}" if "=" in line and name in settings else line)
    assert not settings, f".env.example lacks {sorted(settings)}"
    (directory / ".env").write_text("\n".join(lines) + "\n")
    return directory


def test_compose_brings_up_app_and_mariadb_and_the_app_answers(app_image, mariadb_image, tmp_path):
    port = free_port()
    directory = operator_directory(tmp_path, port, app_image, mariadb_image)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    compose = [VENV_BIN / "podman-compose", "--project-name", f"oftest{uuid.uuid4().hex[:8]}"]

    def step(*args: str, timeout: float = 300):
        result = run([*compose, *args], env, cwd=directory, timeout=timeout)
        assert result.returncode == 0, f"{args}: " + result.stdout[-2000:] + result.stderr[-2000:]
        return result

    def healthy() -> bytes:
        status, body = wait_for_http(f"http://127.0.0.1:{port}/api/health", StillStarting(), timeout=240)
        assert status == 200, body
        assert b'"database": "ok"' in body and b'"migrations": "current"' in body
        return body

    up = run([*compose, "up", "-d"], env, cwd=directory, timeout=600)
    try:
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        healthy()

        # The seed's migration step, then the first super admin, inside the app container.
        initializedb = ["initializedb", "production.ini", "--username", "admin", "--password", PASSWORD]
        assert "Created super admin 'admin'." in step("exec", "-T", "app", *initializedb).stdout
        status, page = wait_for_http(f"http://127.0.0.1:{port}/login", StillStarting())
        assert status == 200 and b'name="subscription_id"' in page

        # A variable of .env that compose does not name reaches the app: the pool size.
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            metrics = response.read().decode()
        assert re.search(r"^db_pool_size 3\.0$", metrics, re.MULTILINE), metrics[-3000:]
        assert ROOT_PASSWORD not in step("exec", "-T", "app", "env").stdout

        # docs/deployment.md's daily backup, into the backups volume, as the app user.
        backup = ["orbitflow", "backup", "production.ini", "--output", f"/app/backups/{BACKUP}", "--keep-days", "30"]
        step("exec", "-T", "app", *backup)

        # docs/deployment.md's restore: app stopped, an empty database, restore, start.
        step("stop", "app")
        recreate = (
            'mariadb -uroot -p"$MARIADB_ROOT_PASSWORD" -e "DROP DATABASE orbitflow; '
            'CREATE DATABASE orbitflow CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"'
        )
        step("exec", "-T", "db", "sh", "-c", recreate)
        restore = step("run", "--rm", "app", "orbitflow", "restore", "production.ini", f"/app/backups/{BACKUP}")
        assert re.search(r"Restored \d+ rows in \d+ tables", restore.stdout), restore.stdout + restore.stderr
        step("start", "app")
        healthy()
        check = step("exec", "-T", "app", "orbitflow", "check", "production.ini")
        assert "Migrations: current." in check.stdout, check.stdout + check.stderr
    finally:
        down = run([*compose, "down", "--volumes"], env, cwd=directory, timeout=300)
        assert down.returncode == 0, down.stderr[-2000:]
