"""JSON API for leads and stages: /api/v1/leads, /api/v1/leads/{id}, .../move, /api/v1/stages."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNoContent
from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import select

from orbitflow.api.helpers import iso, json_body, paginate, paging_parameters
from orbitflow.api.openapi import api_operation, api_schema, id_schema, int_schema, list_of, ref
from orbitflow.leads import stages as stage_services
from orbitflow.leads.models import LEAD_SOURCES, STAGE_KINDS, Lead, LeadActivity, LeadNote, Stage
from orbitflow.leads.normalize import MAX_TAG_LENGTH, MAX_TAGS, MAX_VALUE
from orbitflow.leads.queries import UTM_FILTERS, LeadFilters, Viewer, get_visible_lead, sorted_leads, stages_of
from orbitflow.leads.representation import lead_json
from orbitflow.leads.rules import actor_id, check_owner_change, phone_region
from orbitflow.leads.services import (
    MAX_NOTE_LENGTH,
    LeadError,
    StaleLead,
    add_note,
    announce,
    audit_info_from_request,
    create_lead,
    delete_lead,
    lead_event,
    move_lead,
    update_lead,
)
from orbitflow.web.errors import APIError
from orbitflow.web.inputs import parse_id, path_id

STALE_MESSAGE = "This lead was changed by someone else since you loaded it; reload it and try again."

LEAD_FIELDS_SCHEMA: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "email": {"type": "string", "format": "email", "maxLength": 254, "nullable": True},
    "phone": {"type": "string", "maxLength": 32, "nullable": True, "description": "Stored as E.164"},
    "company_name": {"type": "string", "maxLength": 200, "nullable": True},
    "value": {
        "type": "number",
        "minimum": 0,
        "maximum": float(MAX_VALUE),
        "nullable": True,
        "description": "In the company's currency; rounded to cents",
    },
    "source": {"type": "string", "enum": list(LEAD_SOURCES)},
    "tags": {"type": "array", "maxItems": MAX_TAGS, "items": {"type": "string", "maxLength": MAX_TAG_LENGTH}},
    "stage_id": id_schema(),
    "owner_id": id_schema(nullable=True),
    "utm": {
        "type": "object",
        "properties": {
            key: {"type": "string", "maxLength": 200, "nullable": True}
            for key in ("source", "medium", "campaign", "term", "content")
        },
    },
    "referrer": {"type": "string", "maxLength": 1000, "nullable": True},
    "consent": {"type": "boolean"},
}
# Read with the phone number, never stored: where a number without a country code is from.
PHONE_REGION_SCHEMA = {
    "type": "string",
    "pattern": "^[A-Za-z]{2}$",
    "example": "GB",
    "writeOnly": True,
    "description": "ISO 3166 region for a phone number without a country code (GB); left out: the company's country",
}
api_schema(
    "Lead",
    {
        "type": "object",
        "required": ["id", "name", "stage_id", "position", "version", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "integer"},
            **LEAD_FIELDS_SCHEMA,
            "position": {"type": "integer", "description": "Order key inside the stage (smaller first)"},
            "version": {"type": "integer", "description": "Send it back with PATCH and move"},
            "consent_at": {"type": "string", "format": "date-time", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
)
api_schema(
    "LeadInput",
    {
        "type": "object",
        "required": ["name"],
        "properties": {**LEAD_FIELDS_SCHEMA, "phone_region": PHONE_REGION_SCHEMA},
    },
)
api_schema(
    "LeadPatch",
    {
        "type": "object",
        "required": ["version"],
        "properties": {**LEAD_FIELDS_SCHEMA, "phone_region": PHONE_REGION_SCHEMA, "version": int_schema(1)},
    },
)
api_schema(
    "LeadMove",
    {
        "type": "object",
        "required": ["stage_id", "version"],
        "properties": {
            "stage_id": id_schema(),
            "position": int_schema(description="0-based index among the stage's leads"),
            "after_id": id_schema(description="Place right after this lead (wins over position)"),
            "before_id": id_schema(description="Place right before this lead"),
            "version": int_schema(1),
        },
    },
)
api_schema(
    "Stage",
    {
        "type": "object",
        "required": ["id", "name", "position", "kind"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "position": {"type": "integer"},
            "kind": {"type": "string", "enum": list(STAGE_KINDS)},
            "color": {"type": "string", "example": "#6366f1"},
        },
    },
)
_STAGE_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 64},
    "kind": {"type": "string", "enum": list(STAGE_KINDS)},
    "color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$", "example": "#6366f1"},
    "position": int_schema(description="0-based place among the stages"),
}
api_schema("StageInput", {"type": "object", "required": ["name"], "properties": _STAGE_FIELDS})
api_schema("StagePatch", {"type": "object", "properties": _STAGE_FIELDS})
api_schema(
    "Note",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "body": {"type": "string"},
            "author_id": {"type": "integer", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
)
api_schema(
    "Activity",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string", "example": "moved"},
            "data": {"type": "object", "nullable": True},
            "actor_id": {"type": "integer", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
)

JSON = "application/json"
ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": ref(name)}}}


def _ok(name: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref(name)}}}


def stage_json(stage: Stage) -> dict[str, Any]:
    return {"id": stage.id, "name": stage.name, "position": stage.position, "kind": stage.kind, "color": stage.color}


def _lead_or_404(request: Request) -> Lead:
    lead = get_visible_lead(request.dbsession, Viewer.from_request(request), path_id(request))
    if lead is None:
        raise APIError(404, "No such lead.")
    return lead


def _invalid(error: LeadError) -> APIError:
    return APIError(422, "Some fields are not valid.", error.fields)


# -- leads ------------------------------------------------------------------------------


@api_operation(
    "api_leads",
    "/api/v1/leads",
    "get",
    summary="List leads",
    description=(
        "Agents see the leads assigned to them and unassigned ones. A parameter that is no filter "
        "(such as a filter of a plugin that is not enabled) is a 400 naming it in the error's fields."
    ),
    parameters=[
        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Name, email, phone or company"},
        {"name": "stage_id", "in": "query", "schema": {"type": "integer"}},
        {"name": "owner_id", "in": "query", "schema": {"type": "string"}, "description": "A user id, me or none"},
        {"name": "source", "in": "query", "schema": {"type": "string", "enum": list(LEAD_SOURCES)}},
        {"name": "tag", "in": "query", "schema": {"type": "string"}},
        *(
            {
                "name": key,
                "in": "query",
                "schema": {"type": "string"},
                "description": "As stored; none for leads without one",
            }
            for key in UTM_FILTERS
        ),
        {
            "name": "quiz_id",
            "in": "query",
            "schema": {"type": "integer"},
            "description": "Leads this quiz created (only while the quiz plugin is enabled; 400 otherwise)",
        },
        *(
            {
                "name": key,
                "in": "query",
                "schema": {"type": "string", "format": "date-time"},
                "description": f"ISO 8601; {what} (UTC when no offset is given)",
            }
            for key, what in (
                ("created_from", "created at or after"),
                ("created_to", "created before"),
                ("won_from", "first won at or after (only while the analytics plugin is enabled; 400 otherwise)"),
                ("won_to", "first won before (only while the analytics plugin is enabled; 400 otherwise)"),
            )
        ),
        {
            "name": "sort",
            "in": "query",
            "schema": {"type": "string", "example": "-created"},
            "description": "created, updated, name, value or company; a leading - sorts descending",
        },
        *paging_parameters(),
    ],
    responses={"200": {"description": "A page of leads", "content": {JSON: {"schema": list_of("Lead")}}}},
)
@view_config(route_name="api_leads", request_method="GET", renderer="json", permission="leads.view")
def list_leads(request: Request):
    filters = LeadFilters.from_request(request, owner_key="owner_id", also=("sort", "page", "per_page"))
    if filters.errors:
        raise APIError(400, "Some filters are not valid.", filters.errors)
    query, _ = sorted_leads(Viewer.from_request(request), filters, request.params.get("sort", "-created"))
    return paginate(request.dbsession, query, request).as_json(lead_json)


@api_operation(
    "api_leads",
    "/api/v1/leads",
    "post",
    summary="Create a lead",
    requestBody=_body("LeadInput"),
    responses={"201": _ok("Lead", "Created")},
)
@view_config(route_name="api_leads", request_method="POST", renderer="json", permission="leads.create")
def create_lead_api(request: Request):
    body = json_body(request)
    owner_id = body.get("owner_id")
    check_owner_change(request, None, owner_id)
    fields = {key: body[key] for key in LEAD_FIELDS_SCHEMA if key in body}
    fields.setdefault("source", "api")
    try:
        lead = create_lead(
            request.dbsession,
            company_id=request.identity.company_id,
            actor_id=actor_id(request),
            phone_region=body.get("phone_region") or phone_region(request),
            audit_info=audit_info_from_request(request),
            **{"name": "", **fields},
        )
    except LeadError as error:
        raise _invalid(error) from None
    announce(request, "lead_created", lead_event(lead, actor_id(request)))
    request.response.status_int = 201
    return lead_json(lead)


@api_operation(
    "api_lead", "/api/v1/leads/{id}", "get", summary="A lead", parameters=[ID_PARAM], responses={"200": _ok("Lead")}
)
@view_config(route_name="api_lead", request_method="GET", renderer="json", permission="leads.view")
def get_lead(request: Request):
    return lead_json(_lead_or_404(request))


@api_operation(
    "api_lead",
    "/api/v1/leads/{id}",
    "patch",
    summary="Change a lead",
    description="Send the lead's current version; a stale version gets 409 and changes nothing.",
    parameters=[ID_PARAM],
    requestBody=_body("LeadPatch"),
    responses={"200": _ok("Lead"), "409": {"description": "The lead changed since it was read"}},
)
@view_config(route_name="api_lead", request_method="PATCH", renderer="json", permission="leads.edit")
def patch_lead(request: Request):
    lead = _lead_or_404(request)
    body = json_body(request)
    version = body["version"]
    changes = {key: body[key] for key in LEAD_FIELDS_SCHEMA if key in body}
    if "owner_id" in changes:
        check_owner_change(request, lead, changes["owner_id"])
    previous_stage = lead.stage_id
    try:
        changed = update_lead(
            request.dbsession,
            lead,
            changes,
            actor_id=actor_id(request),
            expected_version=version,
            phone_region=body.get("phone_region") or phone_region(request),
            audit_info=audit_info_from_request(request),
        )
    except StaleLead:
        raise APIError(409, STALE_MESSAGE) from None
    except LeadError as error:
        raise _invalid(error) from None
    if changed:
        announce(request, "lead_updated", lead_event(lead, actor_id(request), changes=changed))
        if "stage_id" in changed:
            announce(request, "lead_moved", lead_event(lead, actor_id(request), previous_stage_id=previous_stage))
    return lead_json(lead)


@api_operation(
    "api_lead",
    "/api/v1/leads/{id}",
    "delete",
    summary="Delete a lead",
    parameters=[ID_PARAM],
    responses={"204": {"description": "Deleted"}},
)
@view_config(route_name="api_lead", request_method="DELETE", permission="leads.delete")
def delete_lead_api(request: Request):
    lead = _lead_or_404(request)
    event = lead_event(lead, actor_id(request))
    delete_lead(request.dbsession, lead, actor_id=actor_id(request), audit_info=audit_info_from_request(request))
    announce(request, "lead_deleted", event)
    return HTTPNoContent()


@api_operation(
    "api_lead_move",
    "/api/v1/leads/{id}/move",
    "post",
    summary="Move a lead to a stage and place",
    description=(
        "Saves a drag on the board. `position` is the 0-based index among the stage's leads you can see; "
        "`after_id`/`before_id` name the neighbour instead. A stale `version` gets 409."
    ),
    parameters=[ID_PARAM],
    requestBody=_body("LeadMove"),
    responses={"200": _ok("Lead"), "409": {"description": "The lead changed since it was read"}},
)
@view_config(route_name="api_lead_move", request_method="POST", renderer="json", permission="leads.edit")
def move_lead_api(request: Request):
    lead = _lead_or_404(request)
    body = json_body(request)
    viewer = Viewer.from_request(request)
    try:
        result = move_lead(
            request.dbsession,
            lead,
            stage_id=body["stage_id"],
            actor_id=actor_id(request),
            expected_version=body["version"],
            position=body.get("position"),
            after_id=body.get("after_id"),
            before_id=body.get("before_id"),
            visible=None if viewer.view_all else viewer.clause(),
            audit_info=audit_info_from_request(request),
        )
    except StaleLead:
        raise APIError(409, STALE_MESSAGE) from None
    except LeadError as error:
        raise _invalid(error) from None
    if result.changed:
        announce(
            request,
            "lead_moved",
            lead_event(result.lead, actor_id(request), previous_stage_id=result.previous_stage_id),
        )
    return lead_json(result.lead)


@api_operation(
    "api_lead_notes",
    "/api/v1/leads/{id}/notes",
    "get",
    summary="A lead's notes, newest first",
    parameters=[ID_PARAM],
    responses={"200": {"description": "Notes", "content": {JSON: {"schema": {"type": "array", "items": ref("Note")}}}}},
)
@view_config(route_name="api_lead_notes", request_method="GET", renderer="json", permission="leads.view")
def list_notes(request: Request):
    lead = _lead_or_404(request)
    notes = request.dbsession.scalars(
        select(LeadNote).where(LeadNote.lead_id == lead.id).order_by(LeadNote.created_at.desc(), LeadNote.id.desc())
    )
    return [_note_json(note) for note in notes]


def _note_json(note: LeadNote) -> dict[str, Any]:
    return {"id": note.id, "body": note.body, "author_id": note.author_id, "created_at": iso(note.created_at)}


@api_operation(
    "api_lead_notes",
    "/api/v1/leads/{id}/notes",
    "post",
    summary="Add a note to a lead",
    parameters=[ID_PARAM],
    requestBody={
        "required": True,
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "required": ["body"],
                    "properties": {"body": {"type": "string", "minLength": 1, "maxLength": MAX_NOTE_LENGTH}},
                }
            }
        },
    },
    responses={"201": _ok("Note", "Created")},
)
@view_config(route_name="api_lead_notes", request_method="POST", renderer="json", permission="leads.edit")
def create_note(request: Request):
    lead = _lead_or_404(request)
    body = json_body(request)
    try:
        note = add_note(
            request.dbsession,
            lead,
            body["body"],
            actor_id=actor_id(request),
            audit_info=audit_info_from_request(request),
        )
    except LeadError as error:
        raise _invalid(error) from None
    request.response.status_int = 201
    return _note_json(note)


@api_operation(
    "api_lead_activity",
    "/api/v1/leads/{id}/activity",
    "get",
    summary="A lead's timeline, newest first",
    parameters=[ID_PARAM],
    responses={
        "200": {"description": "Timeline", "content": {JSON: {"schema": {"type": "array", "items": ref("Activity")}}}}
    },
)
@view_config(route_name="api_lead_activity", request_method="GET", renderer="json", permission="leads.view")
def list_activity(request: Request):
    lead = _lead_or_404(request)
    rows = request.dbsession.scalars(
        select(LeadActivity)
        .where(LeadActivity.lead_id == lead.id)
        .order_by(LeadActivity.created_at.desc(), LeadActivity.id.desc())
        .limit(500)
    )
    return [
        {"id": row.id, "kind": row.kind, "data": row.data, "actor_id": row.actor_id, "created_at": iso(row.created_at)}
        for row in rows
    ]


# -- stages -----------------------------------------------------------------------------


@api_operation(
    "api_stages",
    "/api/v1/stages",
    "get",
    summary="The company's pipeline stages in board order",
    responses={
        "200": {
            "description": "Stages",
            "content": {
                JSON: {"schema": {"type": "object", "properties": {"items": {"type": "array", "items": ref("Stage")}}}}
            },
        }
    },
)
@view_config(route_name="api_stages", request_method="GET", renderer="json", permission="leads.view")
def list_stages(request: Request):
    stages = stages_of(request.dbsession)
    return {
        "items": [stage_json(stage) for stage in stages],
        "total": len(stages),
        "page": 1,
        "per_page": max(len(stages), 1),
    }


def _stage_error(error: stage_services.StageError) -> APIError:
    return APIError(422, str(error), error.fields)


@api_operation(
    "api_stages",
    "/api/v1/stages",
    "post",
    summary="Add a stage (owners and admins)",
    requestBody=_body("StageInput"),
    responses={"201": _ok("Stage", "Created")},
)
@view_config(route_name="api_stages", request_method="POST", renderer="json", permission="stages.manage")
def create_stage_api(request: Request):
    body = json_body(request)
    try:
        stage = stage_services.create_stage(
            request.dbsession,
            company_id=request.identity.company_id,
            name=body.get("name"),
            color=body.get("color"),
            kind=body.get("kind") or "open",
            index=body.get("position"),
            actor_id=actor_id(request),
            audit_info=audit_info_from_request(request),
        )
    except stage_services.StageError as error:
        raise _stage_error(error) from None
    request.response.status_int = 201
    return stage_json(stage)


def _stage_or_404(request: Request) -> Stage:
    stage = request.dbsession.get(Stage, path_id(request))
    if stage is None or stage.company_id != request.identity.company_id:
        raise APIError(404, "No such stage.")
    return stage


@api_operation(
    "api_stage",
    "/api/v1/stages/{id}",
    "patch",
    summary="Rename, recolour, re-kind or reorder a stage",
    parameters=[ID_PARAM],
    requestBody=_body("StagePatch"),
    responses={"200": _ok("Stage")},
)
@view_config(route_name="api_stage", request_method="PATCH", renderer="json", permission="stages.manage")
def patch_stage(request: Request):
    stage = _stage_or_404(request)
    body = json_body(request)
    try:
        stage_services.update_stage(
            request.dbsession,
            stage,
            {key: body[key] for key in ("name", "color", "kind") if key in body},
            actor_id=actor_id(request),
            audit_info=audit_info_from_request(request),
        )
        index = body.get("position")
        if index is not None:
            stage_services.place_stage(
                request.dbsession,
                stage,
                index,
                actor_id=actor_id(request),
                audit_info=audit_info_from_request(request),
            )
    except stage_services.StageError as error:
        raise _stage_error(error) from None
    return stage_json(stage)


@api_operation(
    "api_stage",
    "/api/v1/stages/{id}",
    "delete",
    summary="Remove a stage",
    description="A stage that holds leads needs `move_to` (query parameter): the stage its leads go to.",
    parameters=[ID_PARAM, {"name": "move_to", "in": "query", "schema": {"type": "integer"}}],
    responses={"204": {"description": "Removed"}},
)
@view_config(route_name="api_stage", request_method="DELETE", permission="stages.manage")
def delete_stage_api(request: Request):
    stage = _stage_or_404(request)
    raw = request.params.get("move_to")
    move_to = parse_id(raw)
    if move_to is None and raw not in (None, ""):
        raise APIError(400, "move_to must be a stage id.", {"move_to": "not a number"})
    try:
        stage_services.delete_stage(
            request.dbsession,
            stage,
            move_to_id=move_to,
            actor_id=actor_id(request),
            audit_info=audit_info_from_request(request),
        )
    except stage_services.StageError as error:
        raise _stage_error(error) from None
    return HTTPNoContent()


def includeme(config) -> None:
    config.add_route("api_leads", "/api/v1/leads")
    config.add_route("api_lead", r"/api/v1/leads/{id:\d+}")
    config.add_route("api_lead_move", r"/api/v1/leads/{id:\d+}/move")
    config.add_route("api_lead_notes", r"/api/v1/leads/{id:\d+}/notes")
    config.add_route("api_lead_activity", r"/api/v1/leads/{id:\d+}/activity")
    config.add_route("api_stages", "/api/v1/stages")
    config.add_route("api_stage", r"/api/v1/stages/{id:\d+}")
    config.scan(__name__)
