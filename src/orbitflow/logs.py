"""Log lines: a request id in every one, text or JSON (``LOG_FORMAT=json``), and the access log.

production.ini and development.ini name :class:`Formatter` for their console handler, so
the choice is made once, from the environment, for every logger (the app's, waitress's,
alembic's). The request id lives in a context variable that the request tween
(:mod:`orbitflow.web.requestid`) sets, so any code that logs during a request is covered
without passing it around.
"""

from __future__ import annotations

import json
import logging
import os
from contextvars import ContextVar
from datetime import UTC, datetime

from orbitflow.config import ConfigError, parse_web_concurrency

current_request_id: ContextVar[str] = ContextVar("orbitflow_request_id", default="-")
LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)-5.5s [%(name)s][%(threadName)s][%(request_id)s] %(message)s"
# Fields of a LogRecord that are not extras passed with ``extra=...``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}

access_log = logging.getLogger("orbitflow.access")


def log_format(environ=None) -> str:
    env = os.environ if environ is None else environ
    value = (env.get("LOG_FORMAT") or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be text or json, got {value!r}")
    return value


class Formatter(logging.Formatter):
    """Text (the INI's ``format``, with the request id) or one JSON object per line."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, style: str = "%", **kw) -> None:
        super().__init__(fmt or TEXT_FORMAT, datefmt, style, **kw)
        try:
            self.json = log_format() == "json"
            # gunicorn turns WEB_CONCURRENCY into a number as it is imported, before the
            # app's settings are checked; logging is set up before either.
            parse_web_concurrency(os.environ.get("WEB_CONCURRENCY"))
        except ConfigError as error:
            # Logging is set up before the app's settings are read: say it here, once.
            raise SystemExit(f"orbitflow: configuration error: {error}") from None

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        if not self.json:
            return super().format(record)
        moment = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        body = {
            "time": moment.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": record.request_id,
            "thread": record.threadName,
            "pid": record.process,
        }
        body.update({key: value for key, value in vars(record).items() if key not in _STANDARD})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            body["stack"] = self.formatStack(record.stack_info)
        return json.dumps(body, default=str, ensure_ascii=False)


def announce_listening(host: str, port: int | str) -> None:
    """The start-up line the original's guide calls healthy ("Server listening on port 3000")."""
    shown = "localhost" if host in ("", "0.0.0.0", "::") else host
    logging.getLogger("orbitflow.server").info(
        "Server listening on port %s (http://%s:%s, bound to %s)", port, shown, port, host or "0.0.0.0",
        extra={"address": host or "0.0.0.0", "port": int(port)},
    )  # fmt: skip
