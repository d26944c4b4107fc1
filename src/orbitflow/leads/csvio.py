"""CSV import (read, map columns, preview, import row by row) and CSV export of leads.

A file is refused as a whole when it cannot be read as CSV (too large, binary, not text,
broken quoting, no rows); otherwise each row is checked on its own and the report names
every bad row by its line number in the file, while the good rows are imported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User
from orbitflow.config import DEFAULT_IMPORT_MAX_BYTES
from orbitflow.leads import normalize as norm
from orbitflow.leads.models import LEAD_SOURCES, Lead, Stage
from orbitflow.leads.positions import GAP, lock_stage, top_position
from orbitflow.leads.services import AuditInfo, LeadError, clean_fields, create_lead, update_lead
from orbitflow.web.inputs import whole_number

DEFAULT_MAX_BYTES = DEFAULT_IMPORT_MAX_BYTES
MAX_ROWS = 10_000
DUPLICATE_MODES = {
    "skip": "Skip rows whose email is already a lead",
    "update": "Update the existing lead with the row's values",
    "create": "Create a new lead anyway (flagged as a duplicate)",
}

# Lead fields a column can map to: key -> (label, header names that map automatically).
IMPORT_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": ("Name", ("name", "full name", "fullname", "contact", "contact name", "lead", "lead name")),
    "first_name": ("First name", ("first name", "firstname", "given name")),
    "last_name": ("Last name", ("last name", "lastname", "surname", "family name")),
    "email": ("Email", ("email", "e-mail", "email address", "mail")),
    "phone": ("Phone", ("phone", "telephone", "phone number", "mobile", "tel")),
    "company_name": ("Company", ("company", "company name", "organisation", "organization", "account")),
    "value": ("Value", ("value", "amount", "deal value", "budget")),
    "source": ("Source", ("source", "lead source")),
    "stage": ("Stage (by name)", ("stage", "status", "pipeline stage")),
    "owner": ("Owner (username or email)", ("owner", "assigned to", "assignee", "owner email", "salesperson")),
    "tags": ("Tags (comma-separated)", ("tags", "tag", "labels")),
    "utm_source": ("UTM source", ("utm_source", "utm source")),
    "utm_medium": ("UTM medium", ("utm_medium", "utm medium")),
    "utm_campaign": ("UTM campaign", ("utm_campaign", "utm campaign", "campaign")),
    "utm_term": ("UTM term", ("utm_term", "utm term")),
    "utm_content": ("UTM content", ("utm_content", "utm content")),
    "referrer": ("Referrer", ("referrer", "referer", "landing page")),
    "consent": ("Consent (yes/no)", ("consent", "opt in", "opt-in", "gdpr consent")),
}


class CsvRefused(ValueError):
    """The file as a whole cannot be imported; nothing was stored."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class ParsedCsv:
    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (line number in the file, cells)
    delimiter: str = ","


def decode(raw: bytes) -> str:
    if b"\x00" in raw:
        raise CsvRefused("This is not a CSV text file (it contains binary data).")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvRefused("The file's characters cannot be read; save it as UTF-8 CSV.")


def parse(raw: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_rows: int = MAX_ROWS) -> ParsedCsv:
    """Read the whole file or refuse it with one message (nothing is half-read)."""
    if len(raw) > max_bytes:
        raise CsvRefused(
            f"The file is {_size(len(raw))}; the limit is {_size(max_bytes)}. Split it into smaller files.", 413
        )
    text = decode(raw)
    if not text.strip():
        raise CsvRefused("The file is empty.")
    sample = text[:8192]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    headers: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if headers is None:
                if not any(cell.strip() for cell in cells):
                    continue
                headers = [cell.strip() for cell in cells]
                continue
            if not any(cell.strip() for cell in cells):
                continue
            rows.append((start, cells))
            if len(rows) > max_rows:
                raise CsvRefused(f"The file has more than {max_rows:,} rows; split it into smaller files.", 413)
    except csv.Error as error:
        raise CsvRefused(f"The file is not valid CSV: line {reader.line_num}: {error}.") from None
    if headers is None:
        raise CsvRefused("The file has no header row.")
    if len(headers) < 1 or not any(headers):
        raise CsvRefused("The header row names no columns.")
    if not rows:
        raise CsvRefused("The file has a header row but no leads.")
    return ParsedCsv(headers, rows, delimiter)


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MB" if count >= 1024 * 1024 else f"{count / 1024:.0f} KB"


def guess_mapping(headers: list[str]) -> dict[str, int]:
    """field -> column index, from the header names."""
    mapping: dict[str, int] = {}
    for index, header in enumerate(headers):
        key = " ".join(header.lower().replace("_", " ").split())
        for name, (_, aliases) in IMPORT_FIELDS.items():
            normalised = {" ".join(alias.replace("_", " ").split()) for alias in aliases}
            if key in normalised and name not in mapping:
                mapping[name] = index
                break
    return mapping


def mapping_from_params(params, headers: list[str]) -> dict[str, int]:
    """Read ``map_<field>`` = column index from the mapping form."""
    mapping: dict[str, int] = {}
    for name in IMPORT_FIELDS:
        column = whole_number(params.get(f"map_{name}"))
        if column is not None and 0 <= column < len(headers):
            mapping[name] = column
    return mapping


@dataclass
class RowResult:
    line: int
    status: str  # created, updated, skipped, error
    message: str = ""
    lead_id: int | None = None
    name: str = ""


@dataclass
class Report:
    results: list[RowResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for result in self.results if result.status == status)

    def as_json(self) -> dict[str, Any]:
        return {
            "created": self.count("created"),
            "updated": self.count("updated"),
            "skipped": self.count("skipped"),
            "errors": [
                {"line": result.line, "message": result.message} for result in self.results if result.status == "error"
            ],
            "skipped_lines": [
                {"line": result.line, "message": result.message}
                for result in self.results
                if result.status == "skipped"
            ],
        }


class RowReader:
    """Turns one CSV row into lead fields, with lookups shared by all rows."""

    def __init__(
        self, session: Session, company_id: int, headers: list[str], mapping: dict[str, int], phone_region: str | None
    ):
        self.session = session
        self.company_id = company_id
        self.headers = headers
        self.mapping = mapping
        self.phone_region = phone_region
        stages = session.scalars(select(Stage).where(Stage.company_id == company_id)).all()
        self.stages = {stage.name.lower(): stage.id for stage in stages}
        users = session.scalars(select(User).where(User.company_id == company_id, User.role != "SUPER_ADMIN")).all()
        self.users: dict[str, User] = {}
        for user in users:
            for key in (user.username, user.email, user.name):
                if key:
                    self.users.setdefault(key.lower(), user)

    def cell(self, cells: list[str], name: str) -> str | None:
        index = self.mapping.get(name)
        if index is None:
            return None
        return cells[index].strip() if index < len(cells) else ""

    def read(self, cells: list[str]) -> dict[str, Any]:
        """Lead fields for ``create_lead``; raises LeadError naming the bad columns."""
        if len(cells) > len(self.headers) and any(cell.strip() for cell in cells[len(self.headers) :]):
            raise LeadError({"row": f"It has {len(cells)} fields but the header has {len(self.headers)}."})
        data: dict[str, Any] = {}
        errors: dict[str, str] = {}
        name = self.cell(cells, "name")
        if not name:
            name = " ".join(filter(None, (self.cell(cells, "first_name"), self.cell(cells, "last_name"))))
        data["name"] = name or ""
        for key in (
            "email",
            "phone",
            "company_name",
            "value",
            "tags",
            "referrer",
            "consent",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_term",
            "utm_content",
        ):
            value = self.cell(cells, key)
            if value is not None:
                data[key] = value
        source = self.cell(cells, "source")
        if source:
            if source.lower() not in LEAD_SOURCES:
                errors["source"] = f"Source {source!r} is not one of {', '.join(LEAD_SOURCES)}."
            else:
                data["source"] = source.lower()
        stage = self.cell(cells, "stage")
        if stage:
            stage_id = self.stages.get(stage.lower())
            if stage_id is None:
                errors["stage"] = f"There is no stage called {stage!r}."
            else:
                data["stage_id"] = stage_id
        owner = self.cell(cells, "owner")
        if owner:
            user = self.users.get(owner.lower())
            if user is None:
                errors["owner"] = f"No user {owner!r} in this company."
            elif not user.is_active:
                errors["owner"] = f"{user.display_name} is deactivated."
            else:
                data["owner_id"] = user.id
        try:
            clean_fields(self.session, self.company_id, data, phone_region=self.phone_region)
        except LeadError as error:
            errors.update(error.fields)
        if errors:
            raise LeadError(errors)
        return data


def describe(error: LeadError, headers: list[str], mapping: dict[str, int]) -> str:
    """One sentence per bad field, named by the file's column where there is one."""
    parts = []
    for name, message in error.fields.items():
        column_key = name.removesuffix("_id") if name in ("stage_id", "owner_id") else name
        index = mapping.get(column_key)
        label = headers[index] if index is not None and index < len(headers) and headers[index] else None
        label = label or IMPORT_FIELDS.get(column_key, (name.replace("_", " ").capitalize(),))[0]
        parts.append(f"{label}: {message}")
    return " ".join(parts)


def preview(
    session: Session,
    company_id: int,
    parsed: ParsedCsv,
    mapping: dict[str, int],
    phone_region: str | None,
    limit: int = 10,
) -> list[dict[str, Any]]:
    reader = RowReader(session, company_id, parsed.headers, mapping, phone_region)
    rows = []
    for line, cells in parsed.rows[:limit]:
        try:
            data = reader.read(cells)
            rows.append({"line": line, "data": data, "error": None})
        except LeadError as error:
            rows.append({"line": line, "data": {}, "error": describe(error, parsed.headers, mapping)})
    return rows


def run_import(
    session: Session,
    *,
    company_id: int,
    parsed: ParsedCsv,
    mapping: dict[str, int],
    duplicates: str,
    default_stage_id: int,
    phone_region: str | None,
    actor_id: int | None,
    audit_info: AuditInfo | None = None,
) -> Report:
    """Import every good row; each bad row is reported by its line and changes nothing."""
    if duplicates not in DUPLICATE_MODES:
        raise ValueError(f"unknown duplicate handling {duplicates!r}")
    reader = RowReader(session, company_id, parsed.headers, mapping, phone_region)
    report = Report()
    known = _existing_emails(session, company_id, parsed, mapping)
    tops: dict[int, int] = {}
    for line, cells in parsed.rows:
        try:
            data = reader.read(cells)
        except LeadError as error:
            report.results.append(RowResult(line, "error", describe(error, parsed.headers, mapping)))
            continue
        data.setdefault("source", "import")
        email = norm.normalise_email(data.get("email")) if data.get("email") else None
        existing_id = known.get(email) if email else None
        if existing_id is not None and duplicates == "skip":
            report.results.append(RowResult(line, "skipped", f"{email} is already a lead.", existing_id, data["name"]))
            continue
        if existing_id is not None and duplicates == "update":
            lead = session.get(Lead, existing_id)
            changes = {key: value for key, value in data.items() if value not in (None, "") and key != "source"}
            if "tags" in changes:
                changes["tags"] = lead.tags + norm.normalise_tags(changes["tags"])
            update_lead(session, lead, changes, actor_id=actor_id, phone_region=phone_region, audit_info=audit_info)
            report.results.append(RowResult(line, "updated", "", lead.id, lead.name))
            continue
        stage_id = data.pop("stage_id", None) or default_stage_id
        if stage_id not in tops:
            lock_stage(session, stage_id)
            tops[stage_id] = top_position(session, stage_id)
        else:
            tops[stage_id] -= GAP
        lead = create_lead(
            session,
            company_id=company_id,
            actor_id=actor_id,
            stage_id=stage_id,
            phone_region=phone_region,
            position=tops[stage_id],
            audit_info=audit_info,
            **data,
        )
        if email:
            known.setdefault(email, lead.id)
        report.results.append(RowResult(line, "created", "", lead.id, lead.name))
    return report


def _existing_emails(session: Session, company_id: int, parsed: ParsedCsv, mapping: dict[str, int]) -> dict[str, int]:
    index = mapping.get("email")
    if index is None:
        return {}
    emails = set()
    for _, cells in parsed.rows:
        if index < len(cells) and cells[index].strip():
            try:
                email = norm.normalise_email(cells[index])
            except norm.FieldError:
                continue
            if email:
                emails.add(email)
    found: dict[str, int] = {}
    ordered = sorted(emails)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        rows = session.execute(
            select(Lead.email, Lead.id)
            .where(Lead.company_id == company_id, Lead.email.in_(chunk))
            .order_by(Lead.created_at, Lead.id)
        )
        for email, lead_id in rows:
            found.setdefault(email, lead_id)
    return found


# -- export -----------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "id",
    "name",
    "email",
    "phone",
    "company_name",
    "value",
    "currency",
    "source",
    "stage",
    "owner",
    "tags",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
    "consent",
    "consent_at",
    "created_at",
    "updated_at",
)
# A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def export_rows(
    leads: Iterable[Lead], stages: dict[int, str], users: dict[int, str], currency: str
) -> Iterator[list[str]]:
    yield list(EXPORT_COLUMNS)
    for lead in leads:
        values = {
            "id": lead.id,
            "name": lead.name,
            "email": lead.email,
            "phone": lead.phone,
            "company_name": lead.company_name,
            "value": lead.value,
            "currency": currency,
            "source": lead.source,
            "stage": stages.get(lead.stage_id, ""),
            "owner": users.get(lead.owner_id, "") if lead.owner_id else "",
            "tags": ", ".join(lead.tags),
            "utm_source": lead.utm_source,
            "utm_medium": lead.utm_medium,
            "utm_campaign": lead.utm_campaign,
            "utm_term": lead.utm_term,
            "utm_content": lead.utm_content,
            "referrer": lead.referrer,
            "consent": "yes" if lead.consent else "no",
            "consent_at": lead.consent_at.isoformat() + "Z" if lead.consent_at else "",
            "created_at": lead.created_at.isoformat() + "Z",
            "updated_at": lead.updated_at.isoformat() + "Z",
        }
        yield [safe_cell(values[column]) for column in EXPORT_COLUMNS]


def to_csv(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(rows)
    return buffer.getvalue()
