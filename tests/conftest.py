"""Real databases for the tests: an SQLite file and a MariaDB database of their own.

Each backend's database is created once per test session and migrated with Alembic (so
the migrations are tested too); after every test the rows are deleted, so tests commit
for real and read back through new connections.

Backends. Every test runs on one backend or on none:
- a test that uses the ``backend`` fixture (or ``backend_name``, for a database of its
  own) runs once per backend;
- a test marked ``mariadb_only`` runs on MariaDB only: its SQLite case is not collected;
- a test that uses the MariaDB server directly (``mariadb_admin``, ``new_mariadb_database``)
  must be marked ``mariadb_only`` or take ``backend_name``; collection stops otherwise;
- any other test uses no database backend.
``--backend=sqlite|mariadb`` runs the tests of that backend and those of none; nothing of
the other backend is collected, so ``--backend=sqlite`` never connects to MariaDB. When
MariaDB cannot be reached its tests are skipped with a loud warning, unless
ORBITFLOW_REQUIRE_MARIADB=1 (as in CI), which turns that into a failure. Redis
(``redis_url``, ORBITFLOW_TEST_REDIS) works the same way with ORBITFLOW_REQUIRE_REDIS=1.

Passwords are hashed at argon2's cheapest cost (``TEST_PASSWORD_HASHING``); an app made
with settings of its own gets the library's defaults, as production does. Tests sign in
with ``login_as`` (the session cookie a successful sign-in issues, without the form);
the sign-in tests use ``support.login`` (the form).
"""

from __future__ import annotations

import contextlib
import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import webtest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import hash_password, use_password_hashing
from orbitflow.app import make_app
from orbitflow.batches import BatchWriter
from orbitflow.config import PasswordHashing, load_settings
from orbitflow.crypto import Encryptor
from orbitflow.db import make_engine, make_session_factory, unscoped
from orbitflow.lifecycle import shut_down
from orbitflow.migrations import alembic_config, upgrade_to_heads
from orbitflow.models.meta import Base
from orbitflow.ratelimit import rate_limiter
from orbitflow.tenants.models import Company
from orbitflow.tenants.services import create_company
from support import PASSWORD, sign_in
from tables import Unchanged

# pytester runs pytest on sample files with this conftest (tests of the backend options).
pytest_plugins = ("pytester",)

BACKENDS = ("sqlite", "mariadb")
MARIADB_SERVER = os.environ.get("ORBITFLOW_TEST_MARIADB", "mysql://root@127.0.0.1:3306")
REQUIRE_MARIADB = os.environ.get("ORBITFLOW_REQUIRE_MARIADB") == "1"
REDIS_SERVER = os.environ.get("ORBITFLOW_TEST_REDIS", "redis://127.0.0.1:6379")
REQUIRE_REDIS = os.environ.get("ORBITFLOW_REQUIRE_REDIS") == "1"
TEST_SECRET = "test-secret-0123456789-0123456789-abcdef"

ALL_PLUGINS = "quiz pixels analytics"
# argon2's cheapest parameters: a hash costs microseconds instead of a tenth of a second.
TEST_PASSWORD_HASHING = PasswordHashing(time_cost=1, memory_kib=8, parallelism=1)
TEST_PASSWORD_HASHING_INI = {
    "orbitflow.password_time_cost": str(TEST_PASSWORD_HASHING.time_cost),
    "orbitflow.password_memory_kib": str(TEST_PASSWORD_HASHING.memory_kib),
    "orbitflow.password_parallelism": str(TEST_PASSWORD_HASHING.parallelism),
}
MARIADB_FIXTURES = ("mariadb_admin", "new_mariadb_database")


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        default="all",
        choices=("all", *BACKENDS),
        help="run the tests of this database backend (and those that use none); all by default",
    )


def pytest_configure(config):
    use_password_hashing(TEST_PASSWORD_HASHING)


def backend_of(item: pytest.Item) -> str | None:
    """The backend ``item`` runs on, or None when it uses no database backend."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "backend_name" in callspec.params:
        return callspec.params["backend_name"]
    if item.get_closest_marker("mariadb_only") or any(name in item.fixturenames for name in MARIADB_FIXTURES):
        return "mariadb"
    return None


def pytest_collection_modifyitems(config, items):
    wanted = config.getoption("--backend")
    keep, drop, unmarked = [], [], []
    for item in items:
        backend = backend_of(item)
        marked = item.get_closest_marker("mariadb_only") is not None
        has_parameter = "backend_name" in getattr(getattr(item, "callspec", None), "params", {})
        if backend == "mariadb" and not marked and not has_parameter:
            unmarked.append(item.nodeid)
        if (marked and backend != "mariadb") or (backend is not None and wanted not in ("all", backend)):
            drop.append(item)
        else:
            keep.append(item)
    if unmarked:
        raise pytest.UsageError(
            "these tests use the MariaDB server directly; mark them mariadb_only:\n  " + "\n  ".join(unmarked)
        )
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


_mariadb_problem: list[str] = []


def pytest_terminal_summary(terminalreporter):
    if _mariadb_problem:
        terminalreporter.write_sep("!", "MariaDB NOT REACHABLE: its tests were skipped", red=True, bold=True)
        terminalreporter.write_line(_mariadb_problem[0], red=True)


@dataclass
class Backend:
    name: str
    url: str
    engine: Engine

    def ini(self, **extra: str) -> dict[str, str]:
        settings = {
            "sqlalchemy.url": self.url,
            "orbitflow.auth_secret": TEST_SECRET,
            "orbitflow.auth_url": "http://localhost",
            "orbitflow.plugins": ALL_PLUGINS,
            "orbitflow.db_pool_size": "5",
            "retry.attempts": "3",
            # Tests drive the delivery worker themselves.
            "orbitflow.deliveries.worker_thread": "false",
            **TEST_PASSWORD_HASHING_INI,
        }
        settings.update(extra)
        return settings


def _mariadb_admin_engine() -> Engine:
    from orbitflow.config import parse_database_url

    url, _ = parse_database_url("ORBITFLOW_TEST_MARIADB", MARIADB_SERVER.rstrip("/") + "/mysql")
    return create_engine(url.set(database=None), isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def mariadb_url(database: str) -> str:
    return f"{MARIADB_SERVER.rstrip('/')}/{database}"


@pytest.fixture(scope="session")
def mariadb_admin():
    try:
        engine = _mariadb_admin_engine()
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        message = f"MariaDB at {MARIADB_SERVER} is not reachable: {error.__class__.__name__}: {error}"
        if REQUIRE_MARIADB:
            pytest.fail(message + " (ORBITFLOW_REQUIRE_MARIADB=1)")
        if not _mariadb_problem:
            _mariadb_problem.append(message)
            warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def new_mariadb_database(mariadb_admin):
    """Create a throw-away database; returns its URL. Dropped at the end of the session."""
    created: list[str] = []

    def create() -> str:
        name = f"orbitflow_test_{uuid.uuid4().hex[:10]}"
        with mariadb_admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
        created.append(name)
        return mariadb_url(name)

    yield create
    with mariadb_admin.connect() as connection:
        for name in created:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))


def worker_number() -> int:
    """0 for a run without pytest-xdist, else the worker's number (gw0 → 0, gw1 → 1, …)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis database of this test process's own (15, 14, … by xdist worker), emptied
    first. Without a Redis server its tests are skipped, unless ORBITFLOW_REQUIRE_REDIS=1
    (as in CI), which turns that into a failure."""
    import redis

    url = f"{REDIS_SERVER.rstrip('/')}/{15 - worker_number() % 16}"
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.exceptions.RedisError as error:
        message = f"Redis at {REDIS_SERVER} is not reachable: {error}"
        if REQUIRE_REDIS:
            pytest.fail(message + " (ORBITFLOW_REQUIRE_REDIS=1)")
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    finally:
        client.close()
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def backend_name(request) -> str:
    """One of BACKENDS: a test (or fixture) that makes a database of its own takes this to
    run once per backend and to be selected by ``--backend``."""
    return request.param


@pytest.fixture(autouse=True)
def cheap_password_hashing():
    """Each test starts at the tests' hashing cost, whatever app an earlier one made."""
    use_password_hashing(TEST_PASSWORD_HASHING)


T = TypeVar("T")


def close_app(app) -> None:
    """Stop an app's background threads (writers flush what they hold)."""
    shut_down(app.registry)


class PerBackend:
    """What the run makes once per backend: its database, and the apps and servers built
    on it.

    pytest keeps one value of a parametrized session fixture at a time: moving from one
    backend's tests to the other's (under pytest-xdist's ``--dist loadfile``, at nearly
    every file) tears the old value down and makes the new one again, a database and its
    migrations included. Fixtures that depend on ``backend`` keep their values here
    instead, and everything is closed once, at the end of the run, in reverse order."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._values: dict[tuple[str, str], Any] = {}

    def get(self, name: str, backend_name: str, make: Callable[[], T], close: Callable[[T], Any] | None = None) -> T:
        key = (name, backend_name)
        if key not in self._values:
            value = make()
            if close is not None:
                self._stack.callback(close, value)
            self._values[key] = value
        return self._values[key]

    def app(self, name: str, backend_name: str, make: Callable[[], T]) -> T:
        """An app, shut down (its background writers flushed) at the end of the run."""
        return self.get(name, backend_name, make, close=close_app)

    def apps(self, backend_name: str) -> list[Any]:
        """The apps made so far on that backend's database."""
        return [
            value for (_name, of), value in self._values.items() if of == backend_name and hasattr(value, "registry")
        ]

    def on_close(self, callback: Callable[[], Any]) -> None:
        self._stack.callback(callback)


@pytest.fixture(scope="session")
def per_backend() -> Iterator[PerBackend]:
    with contextlib.ExitStack() as stack:
        yield PerBackend(stack)


def _create_backend(backend_name: str, request, per_backend: PerBackend, tmp_path_factory) -> Backend:
    if backend_name == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'orbitflow.sqlite'}"
    else:
        # Created and dropped here rather than by new_mariadb_database, so the database
        # outlives the apps made on it (their background writers flush at close).
        admin = request.getfixturevalue("mariadb_admin")
        name = f"orbitflow_test_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))

        def drop() -> None:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))

        per_backend.on_close(drop)
        url = mariadb_url(name)
    settings = load_settings(
        {"sqlalchemy.url": url, "orbitflow.auth_secret": TEST_SECRET, "orbitflow.plugins": ALL_PLUGINS}, environ={}
    )
    engine = make_engine(settings.database)
    per_backend.on_close(engine.dispose)
    upgrade_to_heads(alembic_config(settings, engine))
    return Backend(backend_name, url, engine)


@pytest.fixture(scope="session")
def backend(backend_name, request, per_backend, tmp_path_factory) -> Backend:
    return per_backend.get(
        "backend", backend_name, lambda: _create_backend(backend_name, request, per_backend, tmp_path_factory)
    )


def _delete_all_rows(engine: Engine) -> None:
    # SQLite ignores PRAGMA foreign_keys inside a transaction: switch it off and on again
    # outside the one that deletes, or the pooled connection keeps foreign keys off.
    switch = "PRAGMA foreign_keys={}" if engine.dialect.name == "sqlite" else "SET FOREIGN_KEY_CHECKS={}"
    with engine.connect() as connection:
        connection.execute(text(switch.format("OFF" if engine.dialect.name == "sqlite" else 0)))
        connection.commit()
        with connection.begin():
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
        connection.execute(text(switch.format("ON" if engine.dialect.name == "sqlite" else 1)))
        connection.commit()


@pytest.fixture(scope="session")
def encryption(backend) -> Encryptor:
    """The encryptor of every app made from ``backend.ini()`` (ENCRYPTION_KEY unset: the
    key derived from the tests' AUTH_SECRET)."""
    return Encryptor(load_settings(backend.ini(), environ={}).encryption_keys)


@pytest.fixture(scope="session")
def wsgi_app(backend, per_backend):
    return per_backend.app("wsgi_app", backend.name, lambda: make_app(backend.ini(), environ={}, engine=backend.engine))


@pytest.fixture
def db(backend):
    """A session that crosses tenants, for arranging data and reading it back.

    Rows are deleted after the test."""
    session = make_session_factory(backend.engine)()
    session.info["tenant_bypass"] = True
    yield session
    session.close()
    _delete_all_rows(backend.engine)


@pytest.fixture
def unchanged(backend, db, wsgi_app, per_backend):
    """``with unchanged(): ...`` fails when the block changed any row (sessions' last-seen
    times aside): refusals read the whole database back. What the background writers
    (funnel events, analytics rollups) of every app on the database hold from before the
    block is written first, so their threads change nothing inside it."""

    def make() -> Unchanged:
        for app in per_backend.apps(backend.name):
            for writer in [value for value in app.registry.values() if isinstance(value, BatchWriter)]:
                writer.flush()
        return Unchanged(backend.engine)

    return make


@pytest.fixture
def testapp(wsgi_app, db) -> webtest.TestApp:
    # Rate-limit counters (sign-in attempts, quiz pages) start empty: the app lives for the session.
    rate_limiter(wsgi_app.registry).reset()
    return webtest.TestApp(wsgi_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.1"})


@pytest.fixture
def another_client(wsgi_app, db):
    """A second browser with its own cookies."""
    return lambda: webtest.TestApp(wsgi_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.2"})


_password_hash: list[str] = []


def default_password_hash() -> str:
    if not _password_hash:
        _password_hash.append(hash_password(PASSWORD))
    return _password_hash[0]


@pytest.fixture
def make_company(db: Session):
    counter = iter(range(1, 10_000))

    def make(name: str | None = None, subscription_id: str | None = None, plan: str = "PROFESSIONAL", **kw) -> Company:
        number = next(counter)
        with unscoped(db):
            company = create_company(
                db,
                name=name or f"Company {number}",
                subscription_id=subscription_id or f"company-{number}-{uuid.uuid4().hex[:4]}",
                plan=plan,
                **kw,
            )
        db.commit()
        return company

    return make


@pytest.fixture
def make_user(db: Session):
    def make(company: Company, role: str = "OWNER", username: str | None = None, **kw) -> User:
        user = User(
            company_id=company.id,
            username=username or f"{role.lower()}-{uuid.uuid4().hex[:6]}",
            name=kw.pop("name", f"{role.title()} User"),
            role=role,
            password_hash=kw.pop("password_hash", default_password_hash()),
            **kw,
        )
        db.add(user)
        db.commit()
        return user

    return make


@pytest.fixture
def platform(make_company) -> Company:
    return make_company(name="OrbitFlow Platform", subscription_id="platform", plan="ENTERPRISE")


@pytest.fixture
def login_as(testapp, db):
    """Sign a browser (``testapp`` unless given) in as ``user``, without the login form."""

    def do(user: User, client: webtest.TestApp | None = None):
        return sign_in(client or testapp, user)

    return do


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parents[1]
