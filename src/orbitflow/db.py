"""Engine, per-request session, tenant scoping and retryable database errors.

Tenant isolation is one mechanism: a session is bound to a company through
``session.info["company_id"]`` and :func:`_scope_to_tenant` adds the ``company_id``
criterion to every ORM query of a :class:`~orbitflow.models.meta.TenantOwned` model,
relationship loads and ``session.get`` included. A Core statement on a tenant-owned table
(and any bulk INSERT) must name the company itself or is refused
(:mod:`orbitflow.tenancy_core`). Code that must cross tenants says so with
:func:`unscoped`.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

import zope.sqlalchemy
from pyramid.request import Request
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria
from zope.sqlalchemy import datamanager

from orbitflow.config import ConfigError, DatabaseSettings, Settings, get_settings
from orbitflow.models.meta import TenantOwned
from orbitflow.replica import Replica, allow_replica, make_replica
from orbitflow.shared import provide, provided, shared
from orbitflow.tenancy_core import CoreTenantError as CoreTenantError
from orbitflow.tenancy_core import check_core_statement, check_orm_insert
from orbitflow.web.body_limit import body_over_limit

COMPANY_KEY = "company_id"
BYPASS_KEY = "tenant_bypass"
# Set on sessions joined to a zope transaction (the request's).
TM_KEY = "orbitflow.tm_session"

# MariaDB errors worth one more try of the whole request: deadlock, lock wait timeout,
# and the connection going away (server restart, wait_timeout, KILL).
RETRYABLE_MARIADB_ERRNOS = frozenset({1205, 1213, 1927, 2006, 2013, 2055, 4031})


# The server cannot be reached at all: too many connections, refused, unknown host, gone
# away, lost. Answered 503 rather than 500: nothing is wrong with the request.
UNAVAILABLE_MARIADB_ERRNOS = frozenset({1040, 2002, 2003, 2005, 2006, 2013})
# The SQLite file cannot be opened (its folder gone, no permission): the same for SQLite.
UNAVAILABLE_SQLITE_ERRORS = frozenset({"SQLITE_CANTOPEN"})


def is_database_unavailable(error: BaseException) -> bool:
    if isinstance(error, PoolTimeoutError):
        return True
    if isinstance(error, DBAPIError):
        return (
            error.connection_invalidated
            or getattr(error.orig, "errno", None) in UNAVAILABLE_MARIADB_ERRNOS
            or getattr(error.orig, "sqlite_errorname", None) in UNAVAILABLE_SQLITE_ERRORS
        )
    return False


def _mariadb_error_is_retryable(error: BaseException) -> bool:
    return getattr(error, "errno", None) in RETRYABLE_MARIADB_ERRNOS


def _sqlite_error_is_retryable(error: BaseException) -> bool:
    return "database is locked" in str(error)


class UnencryptedDatabaseConnection(ConfigError):
    """DATABASE_URL (or DATABASE_REPLICA_URL) demands TLS and the server answered without it."""


class TenantScopeError(RuntimeError):
    """A tenant-owned model was queried by a session bound to no company."""


def driver_available(settings: DatabaseSettings) -> None:
    """Refuse a MariaDB URL up front when the driver cannot be imported.

    Importing (not just finding) the module also catches a driver whose Connector/C
    library is missing."""
    if settings.is_sqlite:
        return
    try:
        import mariadb  # noqa: F401
    except ImportError:
        raise ConfigError(
            "DATABASE_URL points to MariaDB but the mariadb driver is not installed: pip install 'orbitflow[mariadb]'"
        ) from None


def make_engine(settings: DatabaseSettings, **overrides) -> Engine:
    driver_available(settings)
    if settings.is_sqlite:
        engine = create_engine(settings.url, connect_args={"timeout": 15}, **overrides)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    options = {
        "pool_size": settings.pool_size,
        "max_overflow": max(2, settings.pool_size // 2),
        "pool_pre_ping": True,
        # Below MariaDB's default wait_timeout (8 h) and typical proxy idle limits.
        "pool_recycle": 1800,
        "pool_timeout": settings.pool_timeout,
        "isolation_level": "READ COMMITTED",
        # Without read/write timeouts a server that stops answering (paused, or cut off
        # by the network) hangs every request, the pool's pre-ping included, for ever.
        "connect_args": {"connect_timeout": 5, "read_timeout": 60, "write_timeout": 60, **settings.connect_args},
    }
    options.update(overrides)
    engine = create_engine(settings.url, **options)
    if settings.tls_required_by:
        event.listen(engine, "connect", _refuse_plain_text(settings))
    return engine


def _refuse_plain_text(settings: DatabaseSettings):
    """A check of every new connection: the driver's ``ssl`` option falls back to plain
    text when the server offers no TLS, so ask the server what the session uses."""
    where = f"{settings.url.host}:{settings.url.port or 3306}"
    message = (
        f"{settings.variable} asks for an encrypted connection ({settings.tls_required_by}) but the server at "
        f"{where} answered without TLS; enable TLS on the server, or use sslmode=prefer to accept plain text"
    )

    def check(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            row = cursor.fetchone()
        finally:
            cursor.close()
        if not row or not row[1]:
            # The pool closes the connection on the way out.
            raise UnencryptedDatabaseConnection(message)

    return check


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def _mark_driver_errors_retryable() -> None:
    """zope.sqlalchemy knows PyMySQL's deadlock only; teach it the mariadb driver's errors."""
    known = {error_type for error_type, _ in datamanager._retryable_errors}
    try:
        import mariadb
    except ImportError:
        mariadb = None
    if mariadb is not None and mariadb.Error not in known:
        datamanager._retryable_errors.append((mariadb.Error, _mariadb_error_is_retryable))
    if sqlite3.OperationalError not in known:
        datamanager._retryable_errors.append((sqlite3.OperationalError, _sqlite_error_is_retryable))


def _scope_to_tenant(state: ORMExecuteState) -> None:
    if state.is_column_load:
        return
    info = state.session.info
    if info.get(BYPASS_KEY) or state.execution_options.get(BYPASS_KEY):
        return
    company_id = info.get(COMPANY_KEY)
    if not state.is_orm_statement:
        # Nothing is added to a Core statement: it must name the company itself.
        check_core_statement(state, company_id)
        return
    if state.is_insert:
        check_orm_insert(state, company_id)
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if company_id is None:
        if _touches_tenant_model(state):
            raise TenantScopeError("tenant-owned model queried without a company; bind the session or use unscoped()")
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantOwned,
            lambda cls: cls.company_id == company_id,
            include_aliases=True,
        )
    )


def _touches_tenant_model(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, TenantOwned) for mapper in state.all_mappers)


def _stamp_company_on_new_rows(session: Session, _flush_context, _instances) -> None:
    company_id = session.info.get(COMPANY_KEY)
    for obj in session.new:
        if not isinstance(obj, TenantOwned):
            continue
        if obj.company_id is None:
            if company_id is None:
                raise TenantScopeError(f"new {type(obj).__name__} has no company")
            obj.company_id = company_id
        elif company_id is not None and obj.company_id != company_id and not session.info.get(BYPASS_KEY):
            raise TenantScopeError(f"{type(obj).__name__} of another company added to this session")


def make_session_factory(engine: Engine, replica=None) -> sessionmaker:
    """Sessions of ``engine``; with a :class:`orbitflow.replica.Replica`, sessions that may
    send the reads of safe requests to it."""
    if replica is not None:
        from orbitflow.replica import RoutingSession

        routing = type("ReplicaRoutingSession", (RoutingSession,), {"replica": replica})
        factory = sessionmaker(bind=engine, expire_on_commit=False, class_=routing)
    else:
        factory = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(factory, "do_orm_execute", _scope_to_tenant)
    event.listen(factory, "before_flush", _stamp_company_on_new_rows)
    return factory


def bind_company(session: Session, company_id: int | None) -> None:
    """Limit every later query of tenant-owned models in ``session`` to one company."""
    session.info[COMPANY_KEY] = company_id


@contextlib.contextmanager
def unscoped(session: Session) -> Iterator[Session]:
    """Cross tenants on purpose (super admin, login, background jobs)."""
    previous = session.info.get(BYPASS_KEY, False)
    session.info[BYPASS_KEY] = True
    try:
        yield session
    finally:
        session.info[BYPASS_KEY] = previous


def get_tm_session(factory: sessionmaker, transaction_manager) -> Session:
    session = factory()
    zope.sqlalchemy.register(session, transaction_manager=transaction_manager)
    session.info[TM_KEY] = True
    return session


def mark_written(session: Session) -> None:
    """After Core DML through ``session.execute()``: a request's session must be marked
    changed, or pyramid_tm rolls its transaction back; other sessions commit themselves."""
    if session.info.get(TM_KEY):
        zope.sqlalchemy.mark_changed(session)


def _request_dbsession(request: Request) -> Session:
    # Tests may hand in their own session through the environ.
    session = request.environ.get("app.dbsession")
    if session is None:
        session = get_tm_session(shared(request.registry, sessionmaker), request.tm)
        if provided(request.registry, Replica) is not None:
            allow_replica(request, session)
    return session


def includeme(config) -> None:
    settings: Settings = get_settings(config.registry)
    _mark_driver_errors_retryable()
    config.registry.settings.setdefault("tm.manager_hook", "pyramid_tm.explicit_manager")
    config.registry.settings.setdefault("retry.attempts", "3")
    # pyramid_tm would look the user up before the request's error handling is in place,
    # so a database outage would escape as an unhandled error; the note is of no use here.
    config.registry.settings["tm.annotate_user"] = "false"
    config.registry.settings.setdefault("retry.activate_hook", "orbitflow.db.retry_activate_hook")
    config.registry.settings["tm.activate_hook"] = "orbitflow.db.tm_activate_hook"
    config.include("pyramid_tm")
    config.include("pyramid_retry")
    engine = provided(config.registry, Engine) or make_engine(settings.database)
    provide(config.registry, engine, Engine)
    replica = make_replica(settings)
    if replica is not None:
        provide(config.registry, replica)
    provide(config.registry, make_session_factory(engine, replica), sessionmaker)
    config.add_request_method(_request_dbsession, "dbsession", reify=True)


def tm_activate_hook(request: Request) -> bool:
    """No transaction for static files."""
    return not request.path_info.startswith("/static/")


def retry_activate_hook(request: Request) -> int | None:
    """One attempt only for a body over the limit: pyramid_retry would otherwise buffer it
    whole before the body-limit tween refuses it. Runs before pyramid_retry touches the
    body, so this is where a chunked body is measured."""
    return 1 if body_over_limit(request) else None
