"""CSV export of the audit log, streamed in batches.

The response body is produced after the request's transaction has ended, so the rows
are read through a session of their own, one short query per batch (keyset paging on
the id), never holding a transaction open while the client downloads.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import sessionmaker

from orbitflow.audit.models import AuditEntry
from orbitflow.audit.queries import changes_text, company_names, user_names

log = logging.getLogger(__name__)

HEADER = (
    "id",
    "time_utc",
    "company",
    "actor",
    "actor_id",
    "impersonator",
    "action",
    "target_type",
    "target_id",
    "changes",
    "ip",
    "user_agent",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_EXPORT_ROWS = 100_000
BATCH_SIZE = 1000


def safe_cell(value: Any) -> str:
    """The text of a cell, defused: a leading quote makes spreadsheets show formulas as text."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_lines(rows: Iterable[Iterable[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def _row(entry: AuditEntry, companies: dict[int, str], users: dict[int, str]) -> list[Any]:
    return [
        entry.id,
        entry.created_at.replace(microsecond=0).isoformat() + "Z",
        companies.get(entry.company_id, "") if entry.company_id else "",
        entry.actor_name,
        entry.actor_id or "",
        users.get(entry.impersonator_id, entry.impersonator_id or ""),
        entry.action,
        entry.target_type,
        entry.target_id,
        changes_text(entry.changes),
        entry.ip,
        entry.user_agent,
    ]


def stream_csv(session_factory: sessionmaker, query: Select, limit: int = MAX_EXPORT_ROWS) -> Iterator[bytes]:
    """Yield the CSV of ``query`` (an audit query with its scope and filters) in chunks."""
    yield csv_lines([HEADER])
    session = session_factory()
    # The scope is in ``query`` itself; the names looked up cross companies.
    session.info["tenant_bypass"] = True
    written = 0
    last_id = None
    try:
        while written < limit:
            batch = query.order_by(None).order_by(AuditEntry.id.desc()).limit(min(BATCH_SIZE, limit - written))
            if last_id is not None:
                batch = batch.where(AuditEntry.id < last_id)
            entries = session.scalars(batch).all()
            if not entries:
                break
            companies = company_names(session, {e.company_id for e in entries if e.company_id})
            users = user_names(session, {e.impersonator_id for e in entries if e.impersonator_id})
            chunk = csv_lines(_row(entry, companies, users) for entry in entries)
            written += len(entries)
            last_id = entries[-1].id
            # End the read transaction before the client gets the chunk.
            session.rollback()
            yield chunk
    except Exception:
        # Headers are sent already; the truncated file is all the client can get.
        log.exception("audit export failed after %s rows", written)
        raise
    finally:
        session.close()
