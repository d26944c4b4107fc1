"""Writing the system log in its own transaction, so an entry survives the failed request.

Every entry passes :func:`write_entry`, which bounds it whoever writes it (an anonymous
browser report or the server's own error handler): each text field is cut to its cap, and
repeats of one error (same level, source and message) are stored at most
:data:`REPEAT_LIMIT` times per window; further repeats are counted in the rate-limit store
and the next stored entry of that error says how many were left out.
"""

from __future__ import annotations

import logging
import secrets
import traceback

from limits import parse
from pyramid.request import Request
from sqlalchemy import String
from sqlalchemy.orm import sessionmaker

from orbitflow.ratelimit import RateLimiter
from orbitflow.shared import provided, shared
from orbitflow.syslog.models import SystemLogEntry

log = logging.getLogger(__name__)

# Caps in UTF-8 bytes for the unbounded text columns (MariaDB's TEXT holds 65,535 bytes).
TEXT_CAPS = {"message": 8_000, "stack": 60_000}
DEFAULT_TEXT_CAP = 8_000
TRUNCATED = " [truncated]"
# The same error stored at most this often; repeats beyond it are counted, not stored.
REPEAT_LIMIT = parse("5 per 10 minutes")
REPEAT_WINDOW_SECONDS = 600


def new_error_id() -> str:
    return secrets.token_hex(6).upper()


def _cut_bytes(text: str, limit: int, *, keep_end: bool = False) -> str:
    encoded = text.encode("utf-8", "replace")
    if len(encoded) <= limit:
        return encoded.decode("utf-8")
    room = limit - len(TRUNCATED)
    if keep_end:  # a stack's last lines name the error
        return TRUNCATED.strip() + " " + encoded[-room:].decode("utf-8", "ignore")
    return encoded[:room].decode("utf-8", "ignore") + TRUNCATED


def bounded(fields: dict) -> dict:
    """``fields`` with every text cut to its column's length or its cap, and text that
    cannot be stored (lone surrogates) replaced."""
    columns = SystemLogEntry.__table__.columns
    result = {}
    for name, value in fields.items():
        if isinstance(value, str):
            kind = columns[name].type
            if isinstance(kind, String) and kind.length:
                value = value.encode("utf-8", "replace").decode("utf-8")
                value = value if len(value) <= kind.length else value[: kind.length]
            else:
                value = _cut_bytes(value, TEXT_CAPS.get(name, DEFAULT_TEXT_CAP), keep_end=name == "stack")
        result[name] = value
    return result


def _repeat_allowed(registry, fields: dict) -> bool:
    """Count this entry against its error's repeat limit; False when it is not to be stored.

    A stored entry that follows left-out repeats says how many there were."""
    limiter = provided(registry, RateLimiter)
    if limiter is None:
        return True
    fingerprint = limiter.key("system-log", fields.get("level") or "", fields.get("source") or "", fields["message"])
    if not limiter.hit([REPEAT_LIMIT], "system-log-repeats", fingerprint).allowed:
        if limiter.count(fingerprint, REPEAT_WINDOW_SECONDS) == 1:
            log.warning(
                "system log: repeats of %s %s error %r are counted, not stored, for a while",
                fields.get("source"),
                fields.get("level"),
                fields["message"][:200],
            )
        return False
    left_out = limiter.take_count(fingerprint)
    if left_out:
        fields["message"] = f"{fields['message']} [{left_out} more like this were not stored]"
    return True


def write_entry(registry, **fields) -> str | None:
    """Insert one entry through a fresh session and commit it; never raises.

    The entry is bounded first, and a repeat over the limit is not stored (its error id is
    returned all the same)."""
    error_id = fields.setdefault("error_id", new_error_id())
    fields = bounded(fields)
    if not _repeat_allowed(registry, fields):
        return error_id
    fields = bounded(fields)
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
        "endpoint": endpoint or (request.path if request else None) or "",
        "method": request.method if request else None,
        "status": status,
        "message": f"{type(error).__name__}: {error}",
        "stack": stack,
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
