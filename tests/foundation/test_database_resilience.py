"""The database failing under the app: a MariaDB server that stops and comes back,
connections killed by the server, deadlocks, lock waits and lost connections.

Everything here runs on real MariaDB servers: the shared one (127.0.0.1:3306) and, for
the stop-and-start test, a private ``mariadbd`` the test runs itself.
"""

from __future__ import annotations

import threading
import time
import uuid

import mariadb
import pytest
import transaction
import webtest
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from foundation.helpers import ALL_PLUGINS, REQUIRE_MARIADB, TEST_SECRET, password_hash
from foundation.mariadb_server import PrivateMariaDB
from orbitflow.accounts.models import User
from orbitflow.app import make_app
from orbitflow.config import load_settings
from orbitflow.db import get_tm_session, make_engine, make_session_factory, unscoped
from orbitflow.migrations import alembic_config, upgrade_to_heads
from orbitflow.shared import shared
from orbitflow.syslog.models import SystemLogEntry
from orbitflow.tenants.services import create_company
from support import login

pytestmark = pytest.mark.mariadb_only


def settings_for(url: str, **extra: str) -> dict[str, str]:
    return {
        "sqlalchemy.url": url,
        "orbitflow.auth_secret": TEST_SECRET,
        "orbitflow.auth_url": "http://localhost",
        "orbitflow.plugins": ALL_PLUGINS,
        "orbitflow.db_pool_size": "3",
        "retry.attempts": "3",
        "orbitflow.deliveries.worker_thread": "false",
        **extra,
    }


def prepare_database(url: str) -> User:
    """Migrate a new database and add a company with its owner; returns the owner."""
    settings = load_settings(settings_for(url), environ={})
    engine = make_engine(settings.database)
    upgrade_to_heads(alembic_config(settings, engine))
    session = make_session_factory(engine)()
    with unscoped(session):
        company = create_company(session, name="Resilient Ltd", subscription_id=f"res-{uuid.uuid4().hex[:6]}")
        owner = User(company_id=company.id, username="owner", name="Owner", role="OWNER", password_hash=password_hash())
        session.add(owner)
        session.commit()
        owner.company  # noqa: B018 -- loaded for login() after the session closes
    session.close()
    engine.dispose()
    return owner


def browser(app) -> webtest.TestApp:
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.7.0.1"})


# A server of the test's own, stopped and started again under a running app.


@pytest.fixture(scope="module")
def private_mariadb(tmp_path_factory):
    if not PrivateMariaDB.available():
        message = "mariadbd and mariadb-install-db are needed to run a private MariaDB server"
        if REQUIRE_MARIADB:
            pytest.fail(message)
        pytest.skip(message)
    server = PrivateMariaDB(tmp_path_factory.mktemp("mariadbd"))
    server.install()
    server.start()
    yield server
    server.stop()


@pytest.mark.slow
def test_health_is_503_while_the_server_is_down_and_the_app_recovers_by_itself(private_mariadb):
    private_mariadb.execute("CREATE DATABASE orbitflow CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    url = f"{private_mariadb.server_url}/orbitflow"
    owner = prepare_database(url)
    # The app makes its own engine from the settings, as in production.
    app = make_app(settings_for(url), environ={})
    balancer, client = browser(app), browser(app)  # the load balancer sends no cookies
    login(client, owner)
    assert balancer.get("/api/health", status=200).json["database"] == "ok"
    client.get("/dashboard", status=200)

    private_mariadb.stop()
    try:
        started = time.monotonic()
        down = balancer.get("/api/health", status=503)
        assert time.monotonic() - started < 5, "health must not hang on a dead server"
        assert down.json["status"] == "error"
        assert down.json["database"] == "unreachable"
        page = client.get("/dashboard", status=503)
        assert "The database is not answering" in page.text
        assert '<a class="brand"' in page.text
        assert page.headers["Retry-After"]
    finally:
        private_mariadb.start()

    # Same app, same pool: no restart needed.
    up = balancer.get("/api/health", status=200)
    assert up.json == {**up.json, "status": "ok", "database": "ok", "migrations": "current"}
    assert "Resilient Ltd" in client.get("/dashboard", status=200).text
    shared(app.registry, Engine).dispose()


@pytest.mark.slow
def test_health_does_not_hang_when_the_server_stops_answering(private_mariadb):
    """A frozen server keeps its sockets open: only the read timeout ends the wait."""
    private_mariadb.execute("CREATE DATABASE frozen CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    url = f"{private_mariadb.server_url}/frozen?connect_timeout=2&read_timeout=2&write_timeout=2"
    prepare_database(url)
    app = make_app(settings_for(url), environ={})
    balancer = browser(app)
    balancer.get("/api/health", status=200)
    private_mariadb.pause()
    try:
        started = time.monotonic()
        down = balancer.get("/api/health", status=503)
        # The pooled connection's ping times out, then so does a new connection.
        assert time.monotonic() - started < 10
        assert down.json["database"] == "unreachable"
    finally:
        private_mariadb.resume()
    assert balancer.get("/api/health", status=200).json["database"] == "ok"
    shared(app.registry, Engine).dispose()


# The shared server: connections killed under the app, deadlocks, lost connections.


@pytest.fixture(scope="module")
def mariadb_database(new_mariadb_database):
    url = new_mariadb_database()
    owner = prepare_database(url)
    return url, url.rsplit("/", 1)[1], owner


def wait_for_lock_wait(engine, connection_id: int, helper: threading.Thread, timeout: float = 30) -> None:
    """Return once the transaction of MariaDB connection ``connection_id`` waits for a row
    lock (InnoDB says so in information_schema.INNODB_TRX); fail, saying what was seen,
    if the helper thread ends first or the time runs out."""
    deadline = time.monotonic() + timeout
    query = text("SELECT trx_state FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = :id")
    seen: list[str | None] = []
    with engine.connect() as watcher:
        while (state := watcher.execute(query, {"id": connection_id}).scalar()) != "LOCK WAIT":
            if not seen or seen[-1] != state:
                seen.append(state)
            assert helper.is_alive(), f"connection {connection_id} ended before waiting for a lock; states {seen}"
            assert time.monotonic() < deadline, f"connection {connection_id} never waited for a lock; states {seen}"
            watcher.rollback()
            time.sleep(0.01)  # polling interval


class LockProbe:
    """Deadlocks the request's transaction on its first attempt, with a second connection
    in a thread, so that InnoDB picks the request as the victim (it changed no rows)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.helper_result: list[str] = []
        self.helper_connection: list[int] = []
        self.attempts: list[int] = []

    def view(self, request):
        attempt = request.environ["retry.attempt"]
        self.attempts.append(attempt)
        session = request.dbsession
        session.execute(text("SELECT n FROM probe_locks WHERE id = 1 FOR UPDATE")).all()
        helper = None
        if attempt == 0:
            ready = threading.Event()
            helper = threading.Thread(target=self._other_transaction, args=(ready,))
            helper.start()
            assert ready.wait(10)
            wait_for_lock_wait(self.engine, self.helper_connection[0], helper)  # the helper waits for row 1
        session.execute(text("UPDATE probe_locks SET n = n + 1 WHERE id = 2"))
        session.execute(text("UPDATE probe_locks SET n = n + 1 WHERE id = 1"))
        from zope.sqlalchemy import mark_changed

        mark_changed(session)
        return Response(f"attempt {attempt}")

    def _other_transaction(self, ready: threading.Event) -> None:
        try:
            with self.engine.begin() as connection:
                self.helper_connection.append(connection.execute(text("SELECT CONNECTION_ID()")).scalar())
                connection.execute(text("UPDATE probe_locks SET n = n + 10 WHERE id = 2"))
                connection.execute(text("UPDATE probe_locks SET n = n + 10 WHERE id = 3"))
                ready.set()
                connection.execute(text("SELECT n FROM probe_locks WHERE id = 1 FOR UPDATE")).all()
            self.helper_result.append("committed")
        except Exception as error:
            self.helper_result.append(f"failed: {error}")
            ready.set()


class LostConnectionProbe:
    """Has the server kill the request's connection in the middle of its first attempt."""

    def __init__(self, admin_engine) -> None:
        self.admin = admin_engine
        self.attempts: list[int] = []

    def view(self, request):
        attempt = request.environ["retry.attempt"]
        self.attempts.append(attempt)
        session = request.dbsession
        connection_id = session.execute(text("SELECT CONNECTION_ID()")).scalar()
        if attempt == 0:
            with self.admin.connect() as admin:
                admin.execute(text(f"KILL {int(connection_id)}"))
        count = session.execute(text("SELECT COUNT(*) FROM companies")).scalar()
        return Response(f"attempt {attempt}: {count} companies")


@pytest.fixture(scope="module")
def resilient_app(mariadb_database, mariadb_admin):
    url, _, owner = mariadb_database
    settings = load_settings(settings_for(url), environ={})
    helper_engine = make_engine(settings.database)
    with helper_engine.begin() as connection:
        connection.execute(text("CREATE TABLE probe_locks (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB"))
        connection.execute(text("INSERT INTO probe_locks VALUES (1, 0), (2, 0), (3, 0)"))
    probes = {"deadlock": LockProbe(helper_engine), "lost": LostConnectionProbe(mariadb_admin)}

    def includeme(config) -> None:
        for name, probe in probes.items():
            config.add_route(f"probe_{name}", f"/api/probe/{name}")
            config.add_view(probe.view, route_name=f"probe_{name}", permission=NO_PERMISSION_REQUIRED)

    app = make_app(settings_for(url), environ={}, includes=[includeme])
    yield app, probes, owner
    shared(app.registry, Engine).dispose()
    helper_engine.dispose()


def app_connection_ids(mariadb_admin, database: str) -> set[int]:
    with mariadb_admin.connect() as admin:
        return set(
            admin.execute(
                text("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = :db"), {"db": database}
            ).scalars()
        )


def system_log_count(app) -> int:
    with shared(app.registry, Engine).connect() as connection:
        return connection.scalar(select(func.count()).select_from(SystemLogEntry))


def test_connections_killed_between_requests_do_not_fail_the_next_request(
    resilient_app, mariadb_database, mariadb_admin
):
    app, _, owner = resilient_app
    _, database, _ = mariadb_database
    client = browser(app)
    login(client, owner)
    client.get("/dashboard", status=200)
    shared(app.registry, Engine).dispose()  # only the app's connections from here on
    client.get("/dashboard", status=200)
    client.get("/api/health", status=200)
    killed = app_connection_ids(mariadb_admin, database)
    assert killed
    with mariadb_admin.connect() as admin:
        for connection_id in killed:
            admin.execute(text(f"KILL {connection_id}"))
    errors_before = system_log_count(app)
    assert "Resilient Ltd" in client.get("/dashboard", status=200).text
    assert client.get("/api/health", status=200).json["database"] == "ok"
    assert app_connection_ids(mariadb_admin, database).isdisjoint(killed)
    assert system_log_count(app) == errors_before


def test_a_request_that_loses_its_connection_is_retried(resilient_app):
    app, probes, _ = resilient_app
    probe = probes["lost"]
    probe.attempts.clear()
    errors_before = system_log_count(app)
    response = browser(app).get("/api/probe/lost", status=200)
    assert response.text.startswith("attempt 1:")
    assert probe.attempts == [0, 1]
    assert system_log_count(app) == errors_before, "a retried attempt is not an error"


def test_a_request_that_hits_a_deadlock_is_retried_and_succeeds(resilient_app):
    app, probes, _ = resilient_app
    probe = probes["deadlock"]
    probe.attempts.clear()
    probe.helper_result.clear()
    with shared(app.registry, Engine).connect() as connection:
        before = dict(connection.execute(text("SELECT id, n FROM probe_locks")).all())
    errors_before = system_log_count(app)
    response = browser(app).get("/api/probe/deadlock", status="*")
    assert probe.helper_result == ["committed"]
    assert response.status_int == 200, response.text
    assert response.text == "attempt 1"
    assert probe.attempts == [0, 1]
    with shared(app.registry, Engine).connect() as connection:
        after = dict(connection.execute(text("SELECT id, n FROM probe_locks")).all())
    # The helper's +10s and the retried request's +1s, nothing of the deadlocked attempt.
    assert after == {1: before[1] + 1, 2: before[2] + 11, 3: before[3] + 10}
    assert system_log_count(app) == errors_before


# The driver's errors, produced for real, as zope.sqlalchemy's data manager judges them.


@pytest.fixture
def locks_engine(mariadb_database):
    url, _, _ = mariadb_database
    engine = make_engine(load_settings(settings_for(url), environ={}).database)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS probe_rows (id INT PRIMARY KEY, n INT) ENGINE=InnoDB"))
        connection.execute(text("DELETE FROM probe_rows"))
        connection.execute(text("INSERT INTO probe_rows VALUES (1, 0), (2, 0)"))
    yield engine
    engine.dispose()


def tm_session(engine):
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    return manager, get_tm_session(make_session_factory(engine), manager)


def caught(statement, session) -> DBAPIError:
    with pytest.raises(DBAPIError) as raised:
        session.execute(text(statement)).all()
    return raised.value


def test_lock_wait_timeout_is_retryable(locks_engine):
    with locks_engine.connect() as holder:
        holder.execute(text("SELECT n FROM probe_rows WHERE id = 1 FOR UPDATE")).all()
        manager, session = tm_session(locks_engine)
        session.execute(text("SET SESSION innodb_lock_wait_timeout = 1"))
        error = caught("SELECT n FROM probe_rows WHERE id = 1 FOR UPDATE", session)
        assert isinstance(error.orig, mariadb.OperationalError)
        assert error.orig.errno == 1205
        assert manager.get().isRetryableError(error)
        manager.abort()
        holder.rollback()


def test_deadlock_is_retryable(locks_engine):
    manager, session = tm_session(locks_engine)
    session.execute(text("SELECT n FROM probe_rows WHERE id = 1 FOR UPDATE")).all()
    ready, outcome, other_connection = threading.Event(), [], []

    def other() -> None:
        with locks_engine.begin() as connection:
            other_connection.append(connection.execute(text("SELECT CONNECTION_ID()")).scalar())
            connection.execute(text("UPDATE probe_rows SET n = n + 1 WHERE id = 2"))
            ready.set()
            connection.execute(text("SELECT n FROM probe_rows WHERE id = 1 FOR UPDATE")).all()
        outcome.append("committed")

    thread = threading.Thread(target=other)
    thread.start()
    assert ready.wait(10)
    wait_for_lock_wait(locks_engine, other_connection[0], thread)
    with pytest.raises(OperationalError) as raised:
        session.execute(text("UPDATE probe_rows SET n = n + 1 WHERE id = 2"))
    error = raised.value
    assert error.orig.errno == 1213
    assert manager.get().isRetryableError(error)
    manager.abort()
    thread.join(10)
    assert outcome == ["committed"]


def test_lost_connection_is_retryable(locks_engine, mariadb_admin):
    manager, session = tm_session(locks_engine)
    connection_id = session.execute(text("SELECT CONNECTION_ID()")).scalar()
    with mariadb_admin.connect() as admin:
        admin.execute(text(f"KILL {int(connection_id)}"))
    error = caught("SELECT 1", session)
    assert error.orig.errno in {2006, 2013}
    assert error.connection_invalidated
    assert manager.get().isRetryableError(error)
    manager.abort()


def test_server_gone_away_is_retryable(locks_engine, mariadb_admin):
    """2006, as the driver raises it on a connection the server closed."""
    manager, session = tm_session(locks_engine)
    raw = session.connection().connection.dbapi_connection
    with mariadb_admin.connect() as admin:
        admin.execute(text(f"KILL {raw.connection_id}"))
    seen = []
    for _ in range(2):  # first "lost connection" (2013), then "server has gone away" (2006)
        with pytest.raises(mariadb.Error) as raised:
            raw.ping()
        seen.append(raised.value)
    assert [error.errno for error in seen] == [2013, 2006]
    for driver_error in seen:
        assert manager.get().isRetryableError(OperationalError("SELECT 1", {}, driver_error))
    session.connection().invalidate()  # SQLAlchemy did not see the raw pings fail
    manager.abort()


@pytest.mark.parametrize(
    ("statement", "errno"),
    [("SELEKT 1", 1064), ("INSERT INTO probe_rows VALUES (1, 0)", 1062), ("SELECT * FROM no_such_table", 1146)],
)
def test_other_errors_are_not_retried(locks_engine, statement, errno):
    manager, session = tm_session(locks_engine)
    with pytest.raises(DBAPIError) as raised:
        session.execute(text(statement))
    assert raised.value.orig.errno == errno
    assert not manager.get().isRetryableError(raised.value)
    manager.abort()
