"""A lead's page (fields, notes, timeline, duplicates), creating, deleting and merging."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPConflict, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from orbitflow.leads.models import LEAD_SOURCES, LeadActivity, LeadNote
from orbitflow.leads.pages import (
    TEMPLATES,
    lead_form,
    lead_or_404,
    owner_choices,
    page_users,
    posted_lead_fields,
    viewer,
)
from orbitflow.leads.queries import get_visible_lead, stages_of
from orbitflow.leads.rules import actor_id, owner_change_problem, phone_region
from orbitflow.leads.services import (
    LeadError,
    StaleLead,
    add_note,
    announce,
    audit_info_from_request,
    create_lead,
    delete_lead,
    duplicates_of,
    lead_event,
    merge_leads,
    update_lead,
)
from orbitflow.leads.timeline import describe_activity
from orbitflow.web.inputs import MAX_ID, NumberError, bounded_int, parse_id
from orbitflow.web.layout import flash

TIMELINE_LIMIT = 200


def _form_context(request: Request, lead=None, form=None, errors=None) -> dict:
    users, users_by_id = page_users(request)
    return {
        "lead": lead,
        "form": form if form is not None else lead_form(lead),
        "errors": errors or {},
        "stages": stages_of(request.dbsession),
        "owners": owner_choices(request, users, lead),
        "users_by_id": users_by_id,
        "sources": LEAD_SOURCES,
    }


@view_config(
    route_name="lead_new", request_method="GET", renderer=TEMPLATES + "lead_new.jinja2", permission="leads.create"
)
def new_lead_form(request: Request):
    form = lead_form(None)
    form["owner_id"] = request.identity.user_id or ""
    stage_id = parse_id(request.GET.get("stage_id"))
    if stage_id is not None:
        form["stage_id"] = stage_id
    return _form_context(request, None, form)


@view_config(
    route_name="lead_new", request_method="POST", renderer=TEMPLATES + "lead_new.jinja2", permission="leads.create"
)
def create_lead_submit(request: Request):
    form = posted_lead_fields(request)
    problem = owner_change_problem(request, None, form.get("owner_id"))
    if problem:
        request.response.status_int = 403
        return _form_context(request, None, form, {"owner_id": problem})
    fields = {key: value for key, value in form.items() if not key.startswith("utm_")}
    fields["utm"] = {key: value for key, value in form.items() if key.startswith("utm_")}
    try:
        lead = create_lead(
            request.dbsession,
            company_id=request.identity.company_id,
            actor_id=actor_id(request),
            phone_region=phone_region(request),
            audit_info=audit_info_from_request(request),
            **{"name": "", **fields},
        )
    except LeadError as error:
        request.response.status_int = 400
        return _form_context(request, None, form, error.fields)
    announce(request, "lead_created", lead_event(lead, actor_id(request)))
    flash(request, f"Lead {lead.name} created.")
    return HTTPSeeOther(request.route_url("lead", id=lead.id))


def _page_context(request: Request, lead, form=None, errors=None, stale: bool = False) -> dict:
    session = request.dbsession
    context = _form_context(request, lead, form, errors)
    notes = session.scalars(
        select(LeadNote)
        .where(LeadNote.lead_id == lead.id)
        .options(selectinload(LeadNote.author))
        .order_by(LeadNote.created_at.desc(), LeadNote.id.desc())
    ).all()
    activity = session.scalars(
        select(LeadActivity)
        .where(LeadActivity.lead_id == lead.id)
        .options(selectinload(LeadActivity.actor))
        .order_by(LeadActivity.created_at.desc(), LeadActivity.id.desc())
        .limit(TIMELINE_LIMIT)
    ).all()
    stages_by_id = {stage.id: stage for stage in context["stages"]}
    context.update(
        notes=notes,
        timeline=[(entry, describe_activity(entry)) for entry in activity],
        duplicates=[dup for dup in duplicates_of(session, lead) if get_visible_lead(session, viewer(request), dup.id)],
        stage=stages_by_id.get(lead.stage_id),
        stale=stale,
        can_edit=request.has_permission("leads.edit"),
        can_delete=request.has_permission("leads.delete"),
    )
    return context


@view_config(route_name="lead", request_method="GET", renderer=TEMPLATES + "lead.jinja2", permission="leads.view")
def lead_page(request: Request):
    return _page_context(request, lead_or_404(request))


@view_config(route_name="lead", request_method="POST", renderer=TEMPLATES + "lead.jinja2", permission="leads.edit")
def lead_save(request: Request):
    lead = lead_or_404(request)
    form = posted_lead_fields(request)
    try:
        version = bounded_int(request.POST.get("version"), minimum=0, maximum=MAX_ID)
    except NumberError:
        version = -1  # a stale version: the save answers the conflict
    problem = owner_change_problem(request, lead, form.get("owner_id"))
    if problem:
        request.response.status_int = 403
        return _page_context(request, lead, {**form, "version": lead.version}, {"owner_id": problem})
    previous_stage = lead.stage_id
    try:
        changed = update_lead(
            request.dbsession,
            lead,
            form,
            actor_id=actor_id(request),
            expected_version=version,
            phone_region=phone_region(request),
            audit_info=audit_info_from_request(request),
        )
    except StaleLead as stale:
        if stale.current_version is None:  # lost a race at the very last moment
            raise HTTPConflict("Someone else saved this lead at the same moment. Reload it and try again.") from None
        request.response.status_int = 409
        return _page_context(request, lead, {**form, "version": lead.version}, {}, stale=True)
    except LeadError as error:
        request.response.status_int = 400
        return _page_context(request, lead, {**form, "version": lead.version}, error.fields)
    if changed:
        announce(request, "lead_updated", lead_event(lead, actor_id(request), changes=changed))
        if "stage_id" in changed:
            announce(request, "lead_moved", lead_event(lead, actor_id(request), previous_stage_id=previous_stage))
        flash(request, "Lead saved.")
    else:
        flash(request, "Nothing changed.", "info")
    return HTTPSeeOther(request.route_url("lead", id=lead.id))


@view_config(
    route_name="lead_notes", request_method="POST", renderer=TEMPLATES + "lead.jinja2", permission="leads.edit"
)
def note_submit(request: Request):
    lead = lead_or_404(request)
    try:
        add_note(
            request.dbsession,
            lead,
            request.POST.get("body", ""),
            actor_id=actor_id(request),
            audit_info=audit_info_from_request(request),
        )
    except LeadError as error:
        request.response.status_int = 400
        context = _page_context(request, lead)
        context.update(note_error=error.fields.get("body"), note_body=request.POST.get("body", ""))
        return context
    flash(request, "Note added.")
    return HTTPSeeOther(request.route_url("lead", id=lead.id, _anchor="notes"))


@view_config(
    route_name="lead_delete", request_method="GET", renderer=TEMPLATES + "lead_delete.jinja2", permission="leads.delete"
)
def delete_confirm(request: Request):
    return {"lead": lead_or_404(request)}


@view_config(route_name="lead_delete", request_method="POST", permission="leads.delete")
def delete_submit(request: Request):
    lead = lead_or_404(request)
    name = lead.name
    event = lead_event(lead, actor_id(request))
    delete_lead(request.dbsession, lead, actor_id=actor_id(request), audit_info=audit_info_from_request(request))
    announce(request, "lead_deleted", event)
    flash(request, f"Lead {name} deleted.")
    return HTTPSeeOther(request.route_url("leads"))


# Merging deletes the duplicate, so it needs leads.delete (whose roles all have leads.edit).
@view_config(route_name="lead_merge", request_method="POST", permission="leads.delete")
def merge_submit(request: Request):
    """Fold the duplicate ``other_id`` into this lead."""
    lead = lead_or_404(request)
    other_id = parse_id(request.POST.get("other_id"))
    other = get_visible_lead(request.dbsession, viewer(request), other_id) if other_id is not None else None
    if other is None or other.id == lead.id:
        flash(request, "Choose a duplicate of this lead to merge.", "error")
        return HTTPSeeOther(request.route_url("lead", id=lead.id))
    other_name = other.name
    other_event = lead_event(other, actor_id(request))
    changes = merge_leads(
        request.dbsession, lead, other, actor_id=actor_id(request), audit_info=audit_info_from_request(request)
    )
    announce(request, "lead_deleted", other_event)
    announce(request, "lead_updated", lead_event(lead, actor_id(request), changes=changes))
    flash(request, f"Merged {other_name} into this lead.")
    return HTTPSeeOther(request.route_url("lead", id=lead.id))


def includeme(config) -> None:
    config.add_route("lead_new", "/leads/new")
    config.add_route("lead", r"/leads/{id:\d+}")
    config.add_route("lead_notes", r"/leads/{id:\d+}/notes")
    config.add_route("lead_delete", r"/leads/{id:\d+}/delete")
    config.add_route("lead_merge", r"/leads/{id:\d+}/merge")
    config.scan(__name__)
