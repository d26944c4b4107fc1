"""DATABASE_REPLICA_URL against two real MariaDB servers in replication (GTID), started by
the test: safe requests read from the replica, writes and a browser's reads right after
its own write go to the primary, and a lagging or stopped replica is skipped."""

from __future__ import annotations

import time

import mariadb
import pytest
import webtest

from foundation.helpers import REQUIRE_MARIADB
from foundation.mariadb_server import PrivateMariaDB
from foundation.test_database_resilience import prepare_database, settings_for
from orbitflow.app import make_app
from orbitflow.replica import RECENT_WRITE_COOKIE
from support import csrf_token, login

pytestmark = [pytest.mark.mariadb_only, pytest.mark.slow]

# A lead id far above anything the primary gives out: the row exists on the replica only.
REPLICA_ONLY_ID = 900001
READ_YOUR_WRITES = 2
CHECK_SECONDS = 0.5


def _query(server: PrivateMariaDB, statement: str, database: str | None = None) -> list[tuple]:
    connection = mariadb.connect(host="127.0.0.1", port=server.port, user="root", database=database, autocommit=True)
    try:
        cursor = connection.cursor()
        cursor.execute(statement)
        return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def _caught_up(primary: PrivateMariaDB, replica: PrivateMariaDB) -> None:
    (position,) = _query(primary, "SELECT @@gtid_binlog_pos")[0]
    assert _query(replica, f"SELECT MASTER_GTID_WAIT('{position}', 30)")[0][0] == 0


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    if not PrivateMariaDB.available():
        message = "mariadbd and mariadb-install-db are needed to run private MariaDB servers"
        if REQUIRE_MARIADB:
            pytest.fail(message)
        pytest.skip(message)
    primary = PrivateMariaDB(
        tmp_path_factory.mktemp("primary"), ("--log-bin=primary-bin", "--server-id=1", "--binlog-format=ROW")
    )
    replica = PrivateMariaDB(tmp_path_factory.mktemp("replica"), ("--server-id=2", "--relay-log=replica-relay"))
    for server in (primary, replica):
        server.install()
        server.start()
    try:
        primary.execute(
            "CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl-password'",
            "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'",
        )
        replica.execute(
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, MASTER_USER='repl', "
            "MASTER_PASSWORD='repl-password', MASTER_USE_GTID=slave_pos",
            "START SLAVE",
        )
        primary.execute("CREATE DATABASE orbitflow CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        owner = prepare_database(f"{primary.server_url}/orbitflow")
        _caught_up(primary, replica)
        yield primary, replica, owner
    finally:
        replica.stop()
        primary.stop()


@pytest.fixture
def app(pair):
    primary, replica, _owner = pair
    ini = settings_for(
        f"{primary.server_url}/orbitflow",
        **{
            "orbitflow.replica_check_seconds": str(CHECK_SECONDS),
            "orbitflow.replica_read_your_writes_seconds": str(READ_YOUR_WRITES),
            "orbitflow.replica_max_lag_seconds": "1",
        },
    )
    application = make_app(ini, environ={"DATABASE_REPLICA_URL": f"{replica.server_url}/orbitflow?connect_timeout=1"})
    yield application
    from sqlalchemy.engine import Engine

    from orbitflow.replica import Replica
    from orbitflow.shared import shared

    shared(application.registry, Replica).engine.dispose()
    shared(application.registry, Engine).dispose()


@pytest.fixture
def replica_only_lead(pair):
    """A lead written on the replica alone: seen by a request only if the replica answered it."""
    primary, replica, owner = pair
    (stage_id,) = _query(primary, f"SELECT id FROM stages WHERE company_id = {owner.company_id} LIMIT 1", "orbitflow")[
        0
    ]
    _query(
        replica,
        "INSERT INTO leads (id, company_id, name, stage_id, position, version, source, consent, created_at, updated_at)"
        f" VALUES ({REPLICA_ONLY_ID}, {owner.company_id}, 'Only On Replica', {stage_id},"
        " 0, 1, 'manual', 0, NOW(), NOW())",
        "orbitflow",
    )
    yield "Only On Replica"
    _query(replica, f"DELETE FROM leads WHERE id = {REPLICA_ONLY_ID}", "orbitflow")


def _browser(app) -> webtest.TestApp:
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.8.0.1"})


def _names(client) -> list[str]:
    return [lead["name"] for lead in client.get("/api/v1/leads", status=200).json["items"]]


def _signed_in(app, owner) -> webtest.TestApp:
    client = _browser(app)
    login(client, owner)
    time.sleep(READ_YOUR_WRITES + 0.2)  # the sign-in was a write: let its window pass
    return client


def test_reads_of_safe_requests_are_served_by_the_replica(app, pair, replica_only_lead):
    _primary, _replica, owner = pair
    client = _signed_in(app, owner)
    assert replica_only_lead in _names(client)
    assert replica_only_lead in client.get(f"/leads/{REPLICA_ONLY_ID}", status=200).text
    assert _browser(app).get("/api/health", status=200).json["replica"] == "ok"


def test_a_users_write_then_read_goes_to_the_primary(app, pair, replica_only_lead):
    primary, replica, owner = pair
    client = _signed_in(app, owner)
    created = client.post_json(
        "/api/v1/leads", {"name": "Written Now"}, headers={"X-CSRF-Token": csrf_token(client)}, status=201
    )
    assert RECENT_WRITE_COOKIE in client.cookies
    # Right after the write: the primary answers (it has the new lead, not the replica's own).
    names = _names(client)
    assert "Written Now" in names and replica_only_lead not in names
    assert client.get(f"/api/v1/leads/{created.json['id']}", status=200).json["name"] == "Written Now"
    # Another browser, which wrote nothing, reads from the replica meanwhile.
    other = _signed_in(app, owner)
    assert replica_only_lead in _names(other)
    # Once the window has passed, this browser reads from the replica again.
    time.sleep(READ_YOUR_WRITES + 0.2)
    client.cookies.pop(RECENT_WRITE_COOKIE, None)
    _caught_up(primary, replica)
    names = _names(client)
    assert replica_only_lead in names and "Written Now" in names
    # The write went to the primary only through replication.
    assert _query(primary, f"SELECT name FROM leads WHERE id = {created.json['id']}", "orbitflow") == [("Written Now",)]


def test_a_lagging_replica_is_skipped(app, pair, replica_only_lead):
    primary, replica, owner = pair
    client = _signed_in(app, owner)
    assert replica_only_lead in _names(client)
    replica.execute("STOP SLAVE SQL_THREAD")
    try:
        primary.execute(f"UPDATE orbitflow.companies SET name = name WHERE id = {owner.company_id}")
        time.sleep(CHECK_SECONDS + 0.2)
        assert _browser(app).get("/api/health", status=200).json["replica"] == "lagging"
        # Reads now come from the primary: the replica's own row is not seen.
        assert replica_only_lead not in _names(client)
        assert client.get("/dashboard", status=200)
    finally:
        replica.execute("START SLAVE SQL_THREAD")
    _caught_up(primary, replica)
    time.sleep(CHECK_SECONDS + 0.2)
    assert replica_only_lead in _names(client)


def test_a_stopped_replica_is_skipped_and_pages_still_work(app, pair):
    primary, replica, owner = pair
    client = _signed_in(app, owner)
    replica.stop()
    try:
        time.sleep(CHECK_SECONDS + 0.2)
        started = time.monotonic()
        health = _browser(app).get("/api/health", status=200).json
        assert health["replica"] == "error" and health["status"] == "ok" and health["database"] == "ok"
        assert time.monotonic() - started < 5
        client.get("/dashboard", status=200)
        client.get("/leads", status=200)
        assert isinstance(_names(client), list)
    finally:
        replica.start()
        replica.execute("START SLAVE")
    _caught_up(primary, replica)
