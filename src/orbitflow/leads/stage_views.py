"""Settings → Pipeline stages: add, rename, recolour, mark won/lost, reorder, remove."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import func, select

from orbitflow.leads import stages as stage_services
from orbitflow.leads.models import STAGE_KINDS, Lead, Stage
from orbitflow.leads.pages import TEMPLATES
from orbitflow.leads.queries import stages_of
from orbitflow.leads.rules import actor_id
from orbitflow.leads.services import audit_info_from_request
from orbitflow.web.inputs import parse_id, path_id
from orbitflow.web.layout import flash


def _stage_or_404(request: Request) -> Stage:
    stage = request.dbsession.get(Stage, path_id(request))
    if stage is None or stage.company_id != request.identity.company_id:
        raise HTTPNotFound("No such stage.")
    return stage


def _context(request: Request, errors=None, form=None, edit_errors=None) -> dict:
    session = request.dbsession
    counts = dict(session.execute(select(Lead.stage_id, func.count()).group_by(Lead.stage_id)).all())
    return {
        "stages": stages_of(session),
        "counts": counts,
        "kinds": STAGE_KINDS,
        "errors": errors or {},
        "form": form or {"kind": "open"},
        "edit_errors": edit_errors or {},
        "palette": stage_services.PALETTE,
    }


@view_config(
    route_name="stages", request_method="GET", renderer=TEMPLATES + "stages.jinja2", permission="stages.manage"
)
def stages_page(request: Request):
    return _context(request)


@view_config(
    route_name="stages", request_method="POST", renderer=TEMPLATES + "stages.jinja2", permission="stages.manage"
)
def stage_create(request: Request):
    form = {key: request.POST.get(key, "") for key in ("name", "color", "kind")}
    try:
        stage = stage_services.create_stage(
            request.dbsession,
            company_id=request.identity.company_id,
            name=form["name"],
            color=form["color"],
            kind=form["kind"] or "open",
            actor_id=actor_id(request),
            audit_info=audit_info_from_request(request),
        )
    except stage_services.StageError as error:
        request.response.status_int = 400
        return _context(request, error.fields or {"name": str(error)}, form)
    flash(request, f"Stage {stage.name} added.")
    return HTTPSeeOther(request.route_url("stages"))


@view_config(
    route_name="stage", request_method="POST", renderer=TEMPLATES + "stages.jinja2", permission="stages.manage"
)
def stage_update(request: Request):
    stage = _stage_or_404(request)
    values = {key: request.POST[key] for key in ("name", "color", "kind") if key in request.POST}
    try:
        changes = stage_services.update_stage(
            request.dbsession, stage, values, actor_id=actor_id(request), audit_info=audit_info_from_request(request)
        )
    except stage_services.StageError as error:
        request.dbsession.expire(stage)
        request.response.status_int = 400
        return _context(request, edit_errors={stage.id: error.fields or {"name": str(error)}})
    flash(request, f"Stage {stage.name} saved." if changes else "Nothing changed.", "success" if changes else "info")
    return HTTPSeeOther(request.route_url("stages"))


@view_config(route_name="stage_move", request_method="POST", permission="stages.manage")
def stage_move(request: Request):
    stage = _stage_or_404(request)
    ids = [s.id for s in stages_of(request.dbsession)]
    index = ids.index(stage.id) + (-1 if request.POST.get("direction") == "up" else 1)
    if 0 <= index < len(ids):
        stage_services.place_stage(
            request.dbsession, stage, index, actor_id=actor_id(request), audit_info=audit_info_from_request(request)
        )
    return HTTPSeeOther(request.route_url("stages", _anchor=f"stage-{stage.id}"))


@view_config(
    route_name="stage_delete",
    request_method="GET",
    renderer=TEMPLATES + "stage_delete.jinja2",
    permission="stages.manage",
)
def stage_delete_confirm(request: Request):
    stage = _stage_or_404(request)
    return {
        "stage": stage,
        "count": stage_services.lead_count(request.dbsession, stage),
        "others": [s for s in stages_of(request.dbsession) if s.id != stage.id],
        "error": None,
    }


@view_config(
    route_name="stage_delete",
    request_method="POST",
    renderer=TEMPLATES + "stage_delete.jinja2",
    permission="stages.manage",
)
def stage_delete(request: Request):
    stage = _stage_or_404(request)
    raw = request.POST.get("move_to", "")
    name = stage.name
    try:
        moved = stage_services.delete_stage(
            request.dbsession,
            stage,
            move_to_id=parse_id(raw),
            actor_id=actor_id(request),
            audit_info=audit_info_from_request(request),
        )
    except stage_services.StageError as error:
        request.response.status_int = 400
        return {
            "stage": stage,
            "count": stage_services.lead_count(request.dbsession, stage),
            "others": [s for s in stages_of(request.dbsession) if s.id != stage.id],
            "error": str(error),
        }
    flash(request, f"Stage {name} removed" + (f"; {moved} lead{'s' if moved != 1 else ''} moved." if moved else "."))
    return HTTPSeeOther(request.route_url("stages"))


def includeme(config) -> None:
    config.add_route("stages", "/pipeline/stages")
    config.add_route("stage", r"/pipeline/stages/{id:\d+}")
    config.add_route("stage_move", r"/pipeline/stages/{id:\d+}/move")
    config.add_route("stage_delete", r"/pipeline/stages/{id:\d+}/delete")
    config.scan(__name__)
