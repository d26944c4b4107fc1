"""docker-compose.yml brought up with podman-compose: the app and a MariaDB service (built
from the same Debian base with Debian's mariadb-server, as no registry is reachable), the
app migrating on start and answering through the published port."""

from __future__ import annotations

import os
import uuid

import pytest

from foundation.helpers import ROOT, VENV_BIN, free_port, run, wait_for_http
from support import PASSWORD

pytestmark = pytest.mark.slow
SECRET = "compose-secret-0123456789-abcdefghijklmnopq"


class StillStarting:
    """The compose project has no single process to watch: wait for the port alone."""

    returncode = None

    def poll(self):
        return None


def test_compose_brings_up_app_and_mariadb_and_the_app_answers(app_image, mariadb_image, tmp_path):
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "APP_IMAGE": app_image,
        "MARIADB_IMAGE": mariadb_image,
        "APP_BIND": f"127.0.0.1:{port}",
        "DB_PASSWORD": "compose-db-pass",
        "DB_ROOT_PASSWORD": "compose-root-pass",
        "AUTH_SECRET": SECRET,
        "AUTH_URL": f"http://localhost:{port}",
        "WEB_CONCURRENCY": "1",
    }
    compose = [VENV_BIN / "podman-compose", "--project-name", f"oftest{uuid.uuid4().hex[:8]}"]
    compose += ["--file", ROOT / "docker-compose.yml"]
    up = run([*compose, "up", "-d"], env, cwd=tmp_path, timeout=600)
    try:
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        status, body = wait_for_http(f"http://127.0.0.1:{port}/api/health", StillStarting(), timeout=240)
        assert status == 200, body
        assert b'"database": "ok"' in body and b'"migrations": "current"' in body

        # The seed's migration step, then the first super admin, inside the app container.
        initializedb = ["initializedb", "production.ini", "--username", "admin", "--password", PASSWORD]
        init = run([*compose, "exec", "-T", "app", *initializedb], env, cwd=tmp_path, timeout=300)
        assert init.returncode == 0, init.stdout[-2000:] + init.stderr[-2000:]
        assert "Created super admin 'admin'." in init.stdout
        status, page = wait_for_http(f"http://127.0.0.1:{port}/login", StillStarting())
        assert status == 200 and b'name="subscription_id"' in page
    finally:
        down = run([*compose, "down", "--volumes"], env, cwd=tmp_path, timeout=300)
        assert down.returncode == 0, down.stderr[-2000:]
