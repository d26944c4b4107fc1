"""Writing the system log in its own transaction, so an entry survives the failed request."""

from __future__ import annotations

import logging
import secrets
import traceback

from pyramid.request import Request
from sqlalchemy.orm import sessionmaker

from orbitflow.shared import shared
from orbitflow.syslog.models import SystemLogEntry

log = logging.getLogger(__name__)


def new_error_id() -> str:
    return secrets.token_hex(6).upper()


def write_entry(registry, **fields) -> str | None:
    """Insert one entry through a fresh session and commit it; never raises."""
    error_id = fields.setdefault("error_id", new_error_id())
    try:
        session = shared(registry, sessionmaker)()
        try:
            session.info["tenant_bypass"] = True
            session.add(SystemLogEntry(**fields))
            session.commit()
        finally:
            session.close()
    except Exception:
        # The database itself may be what failed; the process log still has it.
        log.exception("could not write the system log (error id %s)", error_id)
    return error_id


def exception_entry(
    error: BaseException,
    *,
    source: str,
    endpoint: str | None = None,
    request: Request | None = None,
    status: int = 500,
    error_id: str | None = None,
) -> dict:
    """The system log fields describing ``error``, computed while the request is alive."""
    error_id = error_id or new_error_id()
    stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    identity = _safe_identity(request)
    return {
        "level": "ERROR",
        "source": source,
        "endpoint": (endpoint or (request.path if request else None) or "")[:500],
        "method": request.method if request else None,
        "status": status,
        "message": f"{type(error).__name__}: {error}"[:5000],
        "stack": stack[-60000:],
        "error_id": error_id,
        "company_id": identity.company_id if identity else None,
        "user_id": identity.user_id if identity else None,
    }


def record_exception(
    registry,
    error: BaseException,
    *,
    source: str = "SERVER_ACTION",
    endpoint: str | None = None,
    request: Request | None = None,
    status: int = 500,
) -> str:
    """Log ``error`` and store it now, in a transaction of its own."""
    fields = exception_entry(error, source=source, endpoint=endpoint, request=request, status=status)
    log.error("error %s at %s: %s", fields["error_id"], fields["endpoint"], error, exc_info=error)
    return write_entry(registry, **fields)


def record_exception_after_request(request: Request, error: BaseException, *, source: str) -> str:
    """Log ``error`` now and store it once the request's transaction has ended.

    Waiting for the end of the request means the failed request's locks are gone (SQLite
    has a single writer, and MariaDB may be waiting on a lock it holds) and the entry
    does not depend on that transaction, which is rolled back.
    """
    fields = exception_entry(error, source=source, request=request)
    log.error("error %s at %s: %s", fields["error_id"], fields["endpoint"], error, exc_info=error)
    registry = request.registry
    request.add_finished_callback(lambda _request: write_entry(registry, **fields))
    return fields["error_id"]


def _safe_identity(request: Request | None):
    if request is None:
        return None
    try:
        return request.identity
    except Exception:
        return None
