"""Two server processes of production.ini against one Redis: the per-address sign-in limit
(orbitflow.signin_limit.address, 20 a minute) counts the attempts made at both."""

from __future__ import annotations

import http.client
import re
import urllib.parse

import pytest
import redis

from foundation.helpers import ROOT, TEST_SECRET, base_env, free_port, run, start_server, stop, wait_for_http

pytestmark = pytest.mark.slow

ADDRESS_LIMIT = 20  # production.ini: orbitflow.signin_limit.address = 20/minute;100/hour


class Browser:
    """One visitor (one address, one CSRF cookie) talking to several servers."""

    def __init__(self) -> None:
        self.cookie = ""
        self.token = ""

    def _request(self, port: int, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Host": "localhost"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie" and value.startswith("orbitflow_csrf="):
                    self.cookie = value.split(";", 1)[0]
            return response.status, response.read().decode()
        finally:
            connection.close()

    def open_login(self, port: int) -> None:
        status, page = self._request(port, "GET", "/login")
        assert status == 200
        self.token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def wrong_password(self, port: int, username: str) -> int:
        form = {"subscription_id": "acme", "username": username, "password": "wrong-password", "csrf_token": self.token}
        return self._request(port, "POST", "/login", urllib.parse.urlencode(form))[0]


def _servers(tmp_path, **env: str) -> tuple[list, list[int]]:
    database = f"sqlite:///{tmp_path / 'limits.sqlite'}"
    common = {"DATABASE_URL": database, "AUTH_SECRET": TEST_SECRET, "AUTH_URL": "http://localhost", **env}
    migrated = run(["orbitflow", "migrate", ROOT / "production.ini"], base_env(tmp_path, **common), cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    servers, ports = [], []
    for _ in range(2):
        port = free_port()
        server = start_server(
            ["pserve", ROOT / "production.ini"], base_env(tmp_path, PORT=str(port), **common), tmp_path
        )
        servers.append(server)
        ports.append(port)
        wait_for_http(f"http://127.0.0.1:{port}/api/health", server)
    return servers, ports


def _attempts_until_refused(ports: list[int]) -> list[int]:
    """Wrong passwords from one address, alternating between the servers; a new username
    each time, so that no account locks and only the address limit can refuse."""
    browser = Browser()
    browser.open_login(ports[0])
    return [browser.wrong_password(ports[number % 2], f"guess{number}") for number in range(ADDRESS_LIMIT + 2)]


def test_the_address_limit_holds_across_two_processes_sharing_redis(tmp_path, redis_url):
    redis.Redis.from_url(redis_url).flushdb()
    servers, ports = _servers(tmp_path, REDIS_URL=redis_url)
    try:
        statuses = _attempts_until_refused(ports)
    finally:
        output = "".join(stop(server) for server in servers)
    # 10 at each server, then the 21st and 22nd are refused, whichever server they reach.
    assert statuses[:ADDRESS_LIMIT] == [400] * ADDRESS_LIMIT, output[-2000:]
    assert statuses[ADDRESS_LIMIT:] == [429, 429]
    assert redis.Redis.from_url(redis_url).dbsize() > 0  # the counters were in Redis


def test_without_redis_each_process_counts_alone(tmp_path):
    """The same attempts against two processes each counting in memory: none is refused,
    which is what the Redis test above proves does not happen."""
    servers, ports = _servers(tmp_path)
    try:
        statuses = _attempts_until_refused(ports)
    finally:
        for server in servers:
            stop(server)
    assert statuses == [400] * (ADDRESS_LIMIT + 2)
