"""CSV import: upload, map the columns with a preview, import, read the report."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.audit.services import audit
from orbitflow.config import get_settings
from orbitflow.leads import csvio
from orbitflow.leads.models import Lead, LeadImport
from orbitflow.leads.normalize import valid_region
from orbitflow.leads.pages import TEMPLATES
from orbitflow.leads.queries import stages_of
from orbitflow.leads.rules import actor_id, phone_region
from orbitflow.leads.services import announce, audit_info_from_request, default_stage, lead_event
from orbitflow.models.meta import utcnow
from orbitflow.web.decoding import allow_file_field
from orbitflow.web.inputs import parse_id, path_id
from orbitflow.web.layout import flash


def max_bytes(request: Request) -> int:
    return get_settings(request.registry).import_max_bytes


def _upload_context(request: Request, error: str | None = None) -> dict:
    return {
        "error": error,
        "max_size": csvio._size(max_bytes(request)),
        "max_rows": csvio.MAX_ROWS,
        "fields": csvio.IMPORT_FIELDS,
    }


@view_config(
    route_name="leads_import",
    request_method="GET",
    renderer=TEMPLATES + "import_upload.jinja2",
    permission="leads.import",
)
def upload_form(request: Request):
    return _upload_context(request)


@view_config(
    route_name="leads_import",
    request_method="POST",
    renderer=TEMPLATES + "import_upload.jinja2",
    permission="leads.import",
)
def upload(request: Request):
    upload = request.POST.get("file")
    if upload is None or not hasattr(upload, "file"):
        request.response.status_int = 400
        return _upload_context(request, "Choose a CSV file to upload.")
    limit = max_bytes(request)
    raw = upload.file.read(limit + 1)
    try:
        parsed = csvio.parse(raw, max_bytes=limit)
    except csvio.CsvRefused as refused:
        request.response.status_int = refused.status
        return _upload_context(request, str(refused))
    record = LeadImport(
        company_id=request.identity.company_id,
        created_by_id=actor_id(request),
        filename=(getattr(upload, "filename", "") or "upload.csv")[-255:],
        content=csvio.decode(raw),
        row_count=len(parsed.rows),
        status="pending",
    )
    request.dbsession.add(record)
    request.dbsession.flush()
    return HTTPSeeOther(request.route_url("leads_import_step", id=record.id))


def _import_or_404(request: Request) -> LeadImport:
    record = request.dbsession.get(LeadImport, path_id(request))
    if record is None or record.company_id != request.identity.company_id:
        raise HTTPNotFound("No such import.")
    return record


def _parsed(request: Request, record: LeadImport) -> csvio.ParsedCsv:
    # Parsed when uploaded, so it parses again; the cap allows for the stored text's size.
    return csvio.parse(record.content.encode("utf-8"), max_bytes=max(max_bytes(request), len(record.content) * 4))


def _options(request: Request, record: LeadImport, parsed: csvio.ParsedCsv, params) -> dict:
    stages = stages_of(request.dbsession)
    if "duplicates" in params:
        mapping = csvio.mapping_from_params(params, parsed.headers)
    else:
        mapping = csvio.guess_mapping(parsed.headers)
    chosen = parse_id(params.get("stage_id"))
    fallback = default_stage(request.dbsession, request.identity.company_id)
    stage_id = chosen if any(s.id == chosen for s in stages) else (fallback.id if fallback else None)
    duplicates = params.get("duplicates", "skip")
    return {
        "mapping": mapping,
        "duplicates": duplicates if duplicates in csvio.DUPLICATE_MODES else "skip",
        "stage_id": stage_id,
        "phone_region": valid_region(params.get("phone_region")) or phone_region(request),
        "stages": stages,
    }


def _step_context(request: Request, record: LeadImport, params, error: str | None = None) -> dict:
    if record.status == "done":
        return {"record": record, "report": record.report or {}}
    parsed = _parsed(request, record)
    options = _options(request, record, parsed, params)
    return {
        "record": record,
        "report": None,
        "parsed": parsed,
        "fields": csvio.IMPORT_FIELDS,
        "duplicate_modes": csvio.DUPLICATE_MODES,
        "preview": csvio.preview(
            request.dbsession, request.identity.company_id, parsed, options["mapping"], options["phone_region"]
        ),
        "error": error,
        **options,
    }


@view_config(
    route_name="leads_import_step",
    request_method="GET",
    renderer=TEMPLATES + "import_step.jinja2",
    permission="leads.import",
)
def mapping_page(request: Request):
    """The mapping form and preview (pending), or the report (done)."""
    return _step_context(request, _import_or_404(request), request.GET)


@view_config(
    route_name="leads_import_step",
    request_method="POST",
    renderer=TEMPLATES + "import_step.jinja2",
    permission="leads.import",
)
def run(request: Request):
    record = _import_or_404(request)
    if record.status == "done":
        return HTTPSeeOther(request.route_url("leads_import_step", id=record.id))
    if request.POST.get("go") != "import":  # "Update preview"
        return _step_context(request, record, request.POST)
    parsed = _parsed(request, record)
    options = _options(request, record, parsed, request.POST)
    if "name" not in options["mapping"] and not {"first_name", "last_name"} & set(options["mapping"]):
        request.response.status_int = 400
        return _step_context(request, record, request.POST, "Choose the column that holds the leads' names.")
    if options["stage_id"] is None:
        request.response.status_int = 400
        return _step_context(request, record, request.POST, "Choose the stage for the new leads.")
    report = csvio.run_import(
        request.dbsession,
        company_id=request.identity.company_id,
        parsed=parsed,
        mapping=options["mapping"],
        duplicates=options["duplicates"],
        default_stage_id=options["stage_id"],
        phone_region=options["phone_region"],
        actor_id=actor_id(request),
        audit_info=audit_info_from_request(request),
    )
    _announce(request, report)
    summary = report.as_json()
    record.status = "done"
    record.finished_at = utcnow()
    record.options = {
        "mapping": {name: parsed.headers[index] for name, index in options["mapping"].items()},
        "duplicates": options["duplicates"],
        "stage_id": options["stage_id"],
        "phone_region": options["phone_region"],
    }
    record.report = summary
    # The report keeps what is needed; the file itself need not stay in the database.
    record.content = ""
    audit(
        request,
        "lead.import",
        record,
        target_type="lead_import",
        changes={
            "file": record.filename,
            "rows": record.row_count,
            "created": summary["created"],
            "updated": summary["updated"],
            "skipped": summary["skipped"],
            "errors": len(summary["errors"]),
        },
    )
    flash(
        request,
        f"Imported {summary['created']} new lead(s), updated {summary['updated']}, skipped {summary['skipped']}, "
        f"{len(summary['errors'])} row(s) with errors.",
        "success" if not summary["errors"] else "info",
    )
    return HTTPSeeOther(request.route_url("leads_import_step", id=record.id))


def _announce(request: Request, report: csvio.Report) -> None:
    """One lead_created or lead_updated per imported row, like any other change."""
    hooks = {"created": "lead_created", "updated": "lead_updated"}
    for result in report.results:
        hook = hooks.get(result.status)
        lead = request.dbsession.get(Lead, result.lead_id) if hook and result.lead_id else None
        if lead is not None:
            announce(request, hook, lead_event(lead, actor_id(request)))


def includeme(config) -> None:
    config.add_route("leads_import", "/leads/import")
    allow_file_field(config, "leads_import", "file")
    config.add_route("leads_import_step", r"/leads/import/{id:\d+}")
    config.scan(__name__)
