"""The lead list: search, filters, sort, paging, bulk actions and CSV export."""

from __future__ import annotations

from dataclasses import dataclass

from pyramid.httpexceptions import HTTPForbidden, HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import func, select

from orbitflow.audit.services import audit
from orbitflow.leads.csvio import export_rows, to_csv
from orbitflow.leads.models import LEAD_SOURCES, Lead
from orbitflow.leads.normalize import FieldError, format_phone, normalise_tags
from orbitflow.leads.pages import (
    TEMPLATES,
    fact_labels,
    filter_form,
    known_tags,
    lead_facts,
    owner_choices,
    page_filters,
    page_users,
    safe_return,
    viewer,
)
from orbitflow.leads.queries import duplicate_emails, sorted_leads, stages_of
from orbitflow.leads.rules import actor_id, owner_change_problem
from orbitflow.leads.services import (
    LeadError,
    announce,
    audit_info_from_request,
    delete_lead,
    lead_event,
    move_lead,
    update_lead,
)
from orbitflow.models.meta import utcnow
from orbitflow.web.inputs import parse_id, parse_page, whole_number
from orbitflow.web.layout import flash

PER_PAGE_CHOICES = (25, 50, 100)
BULK_LIMIT = 500
BULK_ACTIONS = {
    "assign": "Assign to",
    "move": "Move to stage",
    "tag": "Add tag",
    "untag": "Remove tag",
    "delete": "Delete",
}


@view_config(route_name="leads", renderer=TEMPLATES + "leads.jinja2", permission="leads.view")
def lead_list(request: Request):
    session = request.dbsession
    filters = page_filters(request, also=("sort", "per_page", "page"))
    query, sort = sorted_leads(viewer(request), filters, request.GET.get("sort", "-created"))
    per_page = whole_number(request.GET.get("per_page"))
    per_page = per_page if per_page in PER_PAGE_CHOICES else 50
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(parse_page(request.GET.get("page")), pages)
    leads = session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    users, users_by_id = page_users(request)
    stages = stages_of(session)
    facts = lead_facts(request, leads)

    def list_url(**changes) -> str:
        params = {**filters.as_params(), "sort": sort, "per_page": str(per_page), "page": str(page)}
        params.update({key: str(value) for key, value in changes.items()})
        return request.route_url("leads", _query=params)

    return {
        "list_url": list_url,
        "export_url": request.route_url("leads_export", _query={**filters.as_params(), "sort": sort}),
        "leads": leads,
        "total": total,
        "page": page,
        "pages": pages,
        "per_page": per_page,
        "per_page_choices": PER_PAGE_CHOICES,
        "sort": sort,
        "filters": filters,
        **filter_form(request, filters),
        "facts": facts,
        "fact_labels": fact_labels(facts),
        "users": users,
        "users_by_id": users_by_id,
        "assignable": owner_choices(request, users, None),
        "stages": stages,
        "stages_by_id": {stage.id: stage for stage in stages},
        "sources": LEAD_SOURCES,
        "tags": known_tags(request),
        "duplicates": duplicate_emails(session, request.identity.company_id, {lead.email for lead in leads}),
        "format_phone": format_phone,
        "bulk_actions": _bulk_actions(request),
        "can_export": request.has_permission("leads.export"),
        "can_import": request.has_permission("leads.import"),
        "can_create": request.has_permission("leads.create"),
    }


def _bulk_actions(request: Request) -> dict[str, str]:
    if not request.has_permission("leads.edit"):
        return {}
    actions = dict(BULK_ACTIONS)
    if not request.has_permission("leads.delete"):
        actions.pop("delete")
    return actions


@dataclass
class BulkRequest:
    action: str
    leads: list[Lead]
    owner_id: str = ""
    stage_id: str = ""
    tag: str = ""
    back: str = ""


def _read_bulk(request: Request) -> tuple[BulkRequest | None, str | None]:
    action = request.POST.get("action", "")
    if action not in _bulk_actions(request):
        return None, "Choose what to do with the selected leads."
    ids = sorted({lead_id for lead_id in map(parse_id, request.POST.getall("ids")) if lead_id is not None})
    if not ids:
        return None, "Select at least one lead."
    if len(ids) > BULK_LIMIT:
        return None, f"Select at most {BULK_LIMIT} leads at a time."
    v = viewer(request)
    leads = list(request.dbsession.scalars(select(Lead).where(Lead.id.in_(ids), v.clause()).order_by(Lead.id)))
    if not leads:
        return None, "None of the selected leads exist any more."
    bulk = BulkRequest(
        action,
        leads,
        owner_id=request.POST.get("owner_id", ""),
        stage_id=request.POST.get("stage_id", ""),
        tag=request.POST.get("tag", ""),
        back=request.POST.get("back", ""),
    )
    if action == "assign":
        for lead in leads:
            problem = owner_change_problem(request, lead, bulk.owner_id)
            if problem:
                return None, problem
    if action == "move" and parse_id(bulk.stage_id) is None:
        return None, "Choose the stage to move the leads to."
    if action in ("tag", "untag"):
        try:
            tags = normalise_tags(bulk.tag)
        except FieldError as error:
            return None, str(error)
        if len(tags) != 1:
            return None, "Enter one tag."
        bulk.tag = tags[0]
    return bulk, None


@view_config(
    route_name="leads_bulk", request_method="POST", renderer=TEMPLATES + "bulk_confirm.jinja2", permission="leads.edit"
)
def bulk_action(request: Request):
    bulk, problem = _read_bulk(request)
    back = safe_return(request, request.POST.get("back"), "leads")
    if problem:
        flash(request, problem, "error")
        return HTTPSeeOther(back)
    if request.POST.get("confirm") != "yes":
        _, users_by_id = page_users(request)
        stages = {stage.id: stage for stage in stages_of(request.dbsession)}
        return {"bulk": bulk, "actions": BULK_ACTIONS, "users_by_id": users_by_id, "stages_by_id": stages}
    done, problem = _apply(request, bulk)
    changed = f"{BULK_ACTIONS[bulk.action]}: {done} lead{'s' if done != 1 else ''} changed."
    if problem:
        # A refused target (a stage or user the company does not have) is the message; a
        # "0 leads changed" success beside it would read as if something had worked.
        flash(request, problem + (f" {changed}" if done else ""), "error")
    else:
        flash(request, changed)
    return HTTPSeeOther(back)


def _apply(request: Request, bulk: BulkRequest) -> tuple[int, str | None]:
    """Apply ``bulk`` lead by lead; returns how many changed and, when one was refused
    (the rest then left as they are), why."""
    session, who, info = request.dbsession, actor_id(request), audit_info_from_request(request)
    done = 0
    if bulk.action == "delete" and not request.has_permission("leads.delete"):
        raise HTTPForbidden("Deleting leads needs the leads.delete permission.")
    for lead in bulk.leads:
        try:
            if bulk.action == "delete":
                event = lead_event(lead, who)
                delete_lead(session, lead, actor_id=who, audit_info=info)
                announce(request, "lead_deleted", event)
                done += 1
                continue
            if bulk.action == "move":
                result = move_lead(session, lead, stage_id=int(bulk.stage_id), actor_id=who, audit_info=info)
                if result.changed:
                    done += 1
                    announce(request, "lead_moved", lead_event(lead, who, previous_stage_id=result.previous_stage_id))
                continue
            if bulk.action == "assign":
                changes = {"owner_id": bulk.owner_id}
            elif bulk.action == "tag":
                changes = {"tags": [*lead.tags, bulk.tag]}
            else:
                changes = {"tags": [tag for tag in lead.tags if tag != bulk.tag]}
            changed = update_lead(session, lead, changes, actor_id=who, audit_info=info)
            if changed:
                done += 1
                announce(request, "lead_updated", lead_event(lead, who, changes=changed))
        except LeadError as error:
            return done, " ".join(error.fields.values())
    return done, None


@view_config(route_name="leads_export", permission="leads.export")
def export_csv(request: Request):
    session = request.dbsession
    filters = page_filters(request, also=("sort",))
    query, _ = sorted_leads(viewer(request), filters, request.GET.get("sort", "-created"))
    users, _ = page_users(request)
    stages = {stage.id: stage.name for stage in stages_of(session)}
    names = {user.id: user.username for user in users}
    leads = session.scalars(query.execution_options(yield_per=500))
    rows = list(export_rows(leads, stages, names, request.company_locale.currency))
    audit(request, "lead.export", target_type="lead", changes={"rows": len(rows) - 1, "filters": filters.as_params()})
    filename = f"leads-{utcnow():%Y%m%d-%H%M}.csv"
    return Response(
        body=to_csv(rows).encode("utf-8-sig"),
        content_type="text/csv",
        charset="utf-8",
        content_disposition=f'attachment; filename="{filename}"',
    )


def includeme(config) -> None:
    config.add_route("leads", "/leads")
    config.add_route("leads_bulk", "/leads/bulk")
    config.add_route("leads_export", "/leads/export.csv")
    config.scan(__name__)
