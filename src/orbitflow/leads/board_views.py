"""The Kanban board: a column per stage, the first cards of each, more on demand."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPNotFound
from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.leads.models import LEAD_SOURCES, Stage
from orbitflow.leads.pages import (
    TEMPLATES,
    filter_form,
    known_tags,
    lead_facts,
    lead_or_404,
    page_filters,
    page_users,
    viewer,
)
from orbitflow.leads.queries import BOARD_PAGE, board, more_cards, parse_cursor
from orbitflow.web.inputs import path_id


def _card_context(request: Request, leads) -> dict:
    users, users_by_id = page_users(request)
    return {
        "users": users,
        "users_by_id": users_by_id,
        "facts": lead_facts(request, leads),
        "can_edit": request.has_permission("leads.edit"),
    }


@view_config(route_name="pipeline", renderer=TEMPLATES + "board.jinja2", permission="leads.view")
def board_page(request: Request):
    filters = page_filters(request)
    columns = board(request.dbsession, viewer(request), filters)
    return {
        **_card_context(request, [lead for column in columns for lead in column.leads]),
        "columns": columns,
        "filters": filters,
        **filter_form(request, filters),
        "sources": LEAD_SOURCES,
        "tags": known_tags(request),
        "can_manage_stages": request.has_permission("stages.manage"),
        "can_create": request.has_permission("leads.create"),
    }


@view_config(route_name="pipeline_column", renderer=TEMPLATES + "_cards.jinja2", permission="leads.view")
def column_cards(request: Request):
    """The next cards of one column (the board's "Show more")."""
    stage = request.dbsession.get(Stage, path_id(request, "stage_id"))
    if stage is None or stage.company_id != request.identity.company_id:
        raise HTTPNotFound("No such stage.")
    filters = page_filters(request, also=("after",))
    leads = more_cards(
        request.dbsession, viewer(request), filters, stage.id, parse_cursor(request.GET.get("after")), BOARD_PAGE + 1
    )
    request.response.headers["X-Has-More"] = "1" if len(leads) > BOARD_PAGE else "0"
    return {**_card_context(request, leads[:BOARD_PAGE]), "leads": leads[:BOARD_PAGE]}


@view_config(route_name="pipeline_card", renderer=TEMPLATES + "_cards.jinja2", permission="leads.view")
def one_card(request: Request):
    """One card as it is now (the board refreshes a card after a conflict)."""
    lead = lead_or_404(request)
    return {**_card_context(request, [lead]), "leads": [lead]}


def includeme(config) -> None:
    config.add_route("pipeline", "/pipeline")
    config.add_route("pipeline_column", r"/pipeline/column/{stage_id:\d+}")
    config.add_route("pipeline_card", r"/pipeline/card/{id:\d+}")
    config.scan(__name__)
