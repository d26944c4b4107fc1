"""DATABASE_REPLICA_URL against two real MariaDB servers in replication (GTID), started by
the test: safe requests read from the replica, writes and a browser's reads right after
its own write go to the primary, and a lagging (numerically or stopped), unreachable,
silent or plain-text replica is skipped without holding up requests."""

from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

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


def _make_app(primary: PrivateMariaDB, replica_url: str, primary_query: str = "", **ini: str):
    settings = settings_for(
        f"{primary.server_url}/orbitflow{primary_query}",
        **{
            "orbitflow.replica_check_seconds": str(CHECK_SECONDS),
            "orbitflow.replica_read_your_writes_seconds": str(READ_YOUR_WRITES),
            "orbitflow.replica_max_lag_seconds": "1",
            **ini,
        },
    )
    return make_app(settings, environ={"DATABASE_REPLICA_URL": replica_url})


def _dispose(application) -> None:
    from sqlalchemy.engine import Engine

    from orbitflow.replica import Replica
    from orbitflow.shared import shared

    shared(application.registry, Replica).engine.dispose()
    shared(application.registry, Engine).dispose()


@pytest.fixture
def make_replica_app(pair):
    made = []

    def make(replica_url: str | None = None, primary_query: str = "", **ini: str):
        primary, replica, _owner = pair
        replica_url = replica_url or f"{replica.server_url}/orbitflow?connect_timeout=1"
        made.append(_make_app(primary, replica_url, primary_query, **ini))
        return made[-1]

    yield make
    for application in made:
        _dispose(application)


@pytest.fixture
def app(make_replica_app):
    return make_replica_app()


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


def _replica_state(app, expected: str, timeout: float = 8.0) -> str:
    """/api/health's replica state once it is ``expected`` (checks run in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        state = _browser(app).get("/api/health", status=200).json["replica"]
        if state == expected or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def _signed_in(app, owner) -> webtest.TestApp:
    client = _browser(app)
    login(client, owner)
    # A new app reads from the primary until its first check of the replica has answered:
    # start one (it runs in the background) while the sign-in's write window passes.
    _browser(app).get("/api/health", status=200)
    time.sleep(READ_YOUR_WRITES + 0.2)
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
        assert _replica_state(app, "lagging") == "lagging"
        # Reads now come from the primary: the replica's own row is not seen.
        assert replica_only_lead not in _names(client)
        assert client.get("/dashboard", status=200)
    finally:
        replica.execute("START SLAVE SQL_THREAD")
    _caught_up(primary, replica)
    # The next check (in the background, once the last one is CHECK_SECONDS old) finds it
    # caught up; reads go back to the replica from then on.
    assert _replica_state(app, "ok") == "ok"
    assert replica_only_lead in _names(client)


def _lag(replica: PrivateMariaDB) -> int | None:
    connection = mariadb.connect(host="127.0.0.1", port=replica.port, user="root", autocommit=True)
    try:
        cursor = connection.cursor(dictionary=True)
        cursor.execute("SHOW SLAVE STATUS")
        return cursor.fetchone()["Seconds_Behind_Master"]
    finally:
        connection.close()


def test_a_replica_behind_by_more_than_the_limit_is_skipped_and_one_within_it_is_used(
    app, make_replica_app, pair, replica_only_lead
):
    primary, replica, owner = pair
    tolerant = make_replica_app(**{"orbitflow.replica_max_lag_seconds": "60"})
    strict_client, tolerant_client = _signed_in(app, owner), _signed_in(tolerant, owner)
    replica.execute("STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY=30", "START SLAVE")
    try:
        # Replicated 30 s late: the replica's lag grows from the moment the primary writes.
        primary.execute("CREATE DATABASE IF NOT EXISTS lag_probe", "DROP DATABASE lag_probe")
        deadline = time.monotonic() + 15
        while (_lag(replica) or 0) < 3:
            assert time.monotonic() < deadline, f"no lag on the replica: {_lag(replica)}"
            time.sleep(0.2)
        assert _replica_state(app, "lagging") == "lagging"  # 3 s or more behind, the limit 1 s
        assert replica_only_lead not in _names(strict_client)
        assert _replica_state(tolerant, "ok") == "ok"  # the same lag under its limit of 60 s
        assert replica_only_lead in _names(tolerant_client)
    finally:
        replica.execute("STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY=0", "START SLAVE")
    _caught_up(primary, replica)


def test_a_replica_that_stops_between_checks_sends_reads_to_the_primary(make_replica_app, pair, replica_only_lead):
    primary, replica, owner = pair
    app = make_replica_app(**{"orbitflow.replica_check_seconds": "600"})
    client = _signed_in(app, owner)
    assert _replica_state(app, "ok") == "ok"
    assert replica_only_lead in _names(client)
    replica.stop()
    try:
        # The replica's last check said "ok" and the next one is minutes away: the read
        # that fails to connect goes to the primary, and so do the reads after it.
        started = time.monotonic()
        assert replica_only_lead not in _names(client)
        assert time.monotonic() - started < 5
        assert _browser(app).get("/api/health", status=200).json["replica"] == "error"
        client.get("/dashboard", status=200)
        client.get("/leads", status=200)
        client.get(f"/leads/{REPLICA_ONLY_ID}", status=404)
    finally:
        replica.start()
        replica.execute("START SLAVE")
    _caught_up(primary, replica)


def test_a_stopped_replica_is_found_by_its_check_and_pages_still_work(app, pair):
    primary, replica, owner = pair
    client = _signed_in(app, owner)
    assert _replica_state(app, "ok") == "ok"
    replica.stop()
    try:
        started = time.monotonic()
        health = _browser(app).get("/api/health", status=200).json
        assert health["status"] == "ok" and health["database"] == "ok"
        assert time.monotonic() - started < 5
        assert _replica_state(app, "error") == "error"
        client.get("/dashboard", status=200)
        client.get("/leads", status=200)
        assert isinstance(_names(client), list)
    finally:
        replica.start()
        replica.execute("START SLAVE")
    _caught_up(primary, replica)


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never says a word, as a replica behind a
    network that drops its packets looks to a client until its time-out."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    held: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stopping.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stopping.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    listener.close()


def test_a_silent_replica_holds_up_no_request_and_times_out_on_its_own_connect_timeout(
    make_replica_app, pair, silent_server
):
    _primary, _replica, owner = pair
    app = make_replica_app(
        f"mysql://root@127.0.0.1:{silent_server}/orbitflow?connect_timeout=3", primary_query="?connect_timeout=10"
    )
    client = _browser(app)
    login(client, owner)

    def timed(path: str) -> float:
        started = time.monotonic()
        (client if path != "/api/health" else _browser(app)).get(path, status=200)
        return time.monotonic() - started

    # The first requests start the replica's check; none of them waits for its answer.
    with ThreadPoolExecutor(4) as pool:
        took = list(pool.map(timed, ["/api/health", "/api/v1/leads", "/leads", "/api/health"]))
    assert max(took) < 2.5, took
    started = time.monotonic()
    # DATABASE_REPLICA_URL's own connect_timeout (3 s), not the primary's (10 s).
    assert _replica_state(app, "error", timeout=15) == "error"
    assert time.monotonic() - started < 7


def test_a_replica_url_that_demands_tls_is_refused_by_a_plain_text_replica(
    make_replica_app, pair, replica_only_lead, caplog
):
    _primary, replica, owner = pair
    app = make_replica_app(f"{replica.server_url}/orbitflow?sslmode=require&connect_timeout=2")
    with caplog.at_level(logging.WARNING, logger="orbitflow.replica"):
        client = _signed_in(app, owner)
        assert replica_only_lead not in _names(client)
        assert _replica_state(app, "ok", timeout=1.5) == "error"
    assert any(
        "DATABASE_REPLICA_URL asks for an encrypted connection (sslmode=require)" in record.getMessage()
        for record in caplog.records
    ), [record.getMessage() for record in caplog.records]
