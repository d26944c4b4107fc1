"""The production image, run as an operator runs it: against the machine's MariaDB
(host network), migrated and initialised inside the container, health-checked, stopped."""

from __future__ import annotations

import time
import uuid

import pytest

from conftest import podman
from foundation.helpers import free_port, wait_for_http
from support import PASSWORD

pytestmark = pytest.mark.slow
SECRET = "container-secret-0123456789-abcdefghijklmnop"


def environment(database_url: str, port: int, **extra: str) -> list[str]:
    values = {
        "DATABASE_URL": database_url,
        "AUTH_SECRET": SECRET,
        "AUTH_URL": f"http://localhost:{port}",
        "PORT": str(port),
        **extra,
    }
    return [item for key, value in values.items() for item in ("-e", f"{key}={value}")]


class Running:
    """``podman ps``'s view of one container, polled like urlopen would be."""

    def __init__(self, name: str) -> None:
        self.name = name

    def poll(self):
        state = podman("inspect", "-f", "{{.State.Running}}", self.name, check=False).stdout.strip()
        return None if state == "true" else 1

    @property
    def returncode(self) -> int:
        return int(podman("inspect", "-f", "{{.State.ExitCode}}", self.name).stdout.strip())


@pytest.mark.mariadb_only
def test_image_initialises_serves_reports_healthy_and_stops_on_sigterm(app_image, new_mariadb_database):
    database_url = new_mariadb_database()
    port = free_port()
    network = ["--network", "host"]

    init = podman(
        "run", "--rm", *network, *environment(database_url, port), app_image,
        "initializedb", "production.ini", "--username", "first-admin", "--password", PASSWORD,
        timeout=300,
    )  # fmt: skip
    assert "Created super admin 'first-admin'." in init.stdout

    name = f"orbitflow-test-{uuid.uuid4().hex[:8]}"
    podman("run", "-d", "--name", name, *network, *environment(database_url, port, MIGRATE_ON_START="true"), app_image)
    try:
        status, body = wait_for_http(f"http://127.0.0.1:{port}/api/health", Running(name), timeout=90)
        assert status == 200, body
        assert b'"migrations": "current"' in body
        status, page = wait_for_http(f"http://127.0.0.1:{port}/login", Running(name))
        assert status == 200 and b'name="subscription_id"' in page

        assert podman("healthcheck", "run", name, check=False).returncode == 0
        assert podman("inspect", "-f", "{{.State.Health.Status}}", name).stdout.strip() == "healthy"
        user = podman("exec", name, "sh", "-c", "id -u; id -un").stdout.split()
        assert user[0] != "0" and user[1] == "orbitflow"
        config = podman("image", "inspect", "-f", "{{.Config.User}} {{json .Config.ExposedPorts}}", app_image).stdout
        assert config.startswith("orbitflow ") and "3000/tcp" in config

        logs = podman("logs", name).stdout + podman("logs", name).stderr
        assert "Database schema is current" in logs  # MIGRATE_ON_START ran first

        started = time.monotonic()
        podman("stop", "--time", "10", name, timeout=60)
        assert time.monotonic() - started < 8, "the server ignored SIGTERM until it was killed"
        assert podman("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "false"
    finally:
        podman("rm", "--force", name, check=False)


def test_image_refuses_a_bad_setting_with_one_line(app_image):
    result = podman(
        "run", "--rm", "--network", "none", "-e", "DATABASE_URL=mysql://u:p@db:3306/x", "-e", "AUTH_SECRET=short",
        app_image, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "orbitflow: configuration error: AUTH_SECRET must be at least 32 characters long" in result.stderr
    assert "Traceback" not in result.stderr


def test_image_holds_no_secrets_or_checkout_state(app_image):
    listing = podman("run", "--rm", "--network", "none", app_image, "sh", "-c", "ls -A /app").stdout.split()
    assert sorted(listing) == ["backups", "docker-entrypoint.sh", "production.ini"]
    tools = podman("run", "--rm", "--network", "none", app_image, "sh", "-c", "command -v curl gcc || true").stdout
    assert tools.strip() == ""


def test_migrate_on_start_migrates_before_the_server_only(app_image):
    # A one-off command (orbitflow restore, which needs an empty database) runs as it is:
    # no migration first, so no database is needed to run it here.
    result = podman(
        "run", "--rm", "--network", "none", "-e", "MIGRATE_ON_START=true", "-e", "MIGRATE_WAIT_SECONDS=1",
        "-e", "DATABASE_URL=mysql://u:p@db:3306/x", "-e", f"AUTH_SECRET={SECRET}", "-e", "AUTH_URL=http://localhost:3000",
        app_image, "sh", "-c", "echo one-off command ran",
        check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "one-off command ran"
    assert "migrat" not in result.stderr.lower() and "database" not in result.stderr.lower()


def test_backups_folder_is_writable_by_the_app_user(app_image):
    listing = podman("run", "--rm", "--network", "none", app_image, "sh", "-c", "touch /app/backups/x && ls -ln /app")
    assert listing.returncode == 0
    owner = [line.split()[2] for line in listing.stdout.splitlines() if line.endswith(" backups")]
    assert owner == ["10001"]
