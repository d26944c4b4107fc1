"""JSON API: /api/v1/analytics/summary and /api/v1/analytics/quizzes/{id}/funnel."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.api.openapi import api_operation, api_schema
from orbitflow.web.errors import APIError
from orbitflow_plugins.analytics import reports
from orbitflow_plugins.analytics.context import ReportContext, quiz_or_404
from orbitflow_plugins.analytics.detail import DetailError, parse_detail
from orbitflow_plugins.analytics.ranges import MAX_DAYS, DayRange, RangeError

JSON = "application/json"
_MEASURES = {
    "leads": {"type": "integer"},
    "won": {"type": "integer"},
    "won_value": {"type": "number"},
}
RANGE_PARAMETERS = [
    {
        "name": "from",
        "in": "query",
        "schema": {"type": "string", "format": "date"},
        "description": "First day (YYYY-MM-DD, company time zone, included); with `to`. Default: the last 30 days.",
    },
    {
        "name": "to",
        "in": "query",
        "schema": {"type": "string", "format": "date"},
        "description": f"Last day, included; not before `from`, at most {MAX_DAYS} days after it.",
    },
]
DETAIL_PARAMETER = {
    "name": "detail",
    "in": "query",
    "schema": {"type": "string", "enum": ["utm"]},
    "description": "`utm` adds `by_utm_medium` and `by_utm_content`; anything else is a 400.",
}


def _by(key: str) -> dict:
    return {
        "type": "array",
        "description": f"only with detail=utm; {key} null for leads without one",
        "items": {"type": "object", "properties": {key: {"type": "string", "nullable": True}, **_MEASURES}},
    }


SUMMARY_SCHEMA = api_schema(
    "AnalyticsSummary",
    {
        "type": "object",
        "required": ["leads", "won", "won_value", "conversion_rate", "by_source", "by_quiz", "by_campaign"],
        "properties": {
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "time_zone": {"type": "string", "description": "the company's IANA time zone the days are counted in"},
            **_MEASURES,
            "conversion_rate": {
                "type": "number",
                "nullable": True,
                "description": "percent of the range's new leads that are won now",
            },
            "previous": {"type": "object", "description": "the same numbers for the period just before"},
            "by_source": {
                "type": "array",
                "items": {"type": "object", "properties": {"source": {"type": "string"}, **_MEASURES}},
            },
            "by_quiz": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "quiz_id": {"type": "integer"},
                        "title": {"type": "string"},
                        "views": {"type": "integer"},
                        "starts": {"type": "integer"},
                        "completions": {"type": "integer"},
                        **_MEASURES,
                    },
                },
            },
            "by_campaign": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "utm_source": {"type": "string", "nullable": True},
                        "utm_campaign": {"type": "string", "nullable": True},
                        **_MEASURES,
                    },
                },
            },
            "median_days_to_win": {
                "type": "number",
                "nullable": True,
                "description": "median days from creation to the first win, of the range's won leads",
            },
            "by_owner": {
                "type": "array",
                "description": "the range's new leads and won leads by their owner now (owner_id null: unassigned)",
                "items": {
                    "type": "object",
                    "properties": {
                        "owner_id": {"type": "integer", "nullable": True},
                        "name": {"type": "string"},
                        **_MEASURES,
                        "median_seconds_to_first_activity": {
                            "type": "number",
                            "nullable": True,
                            "description": "of the owner's new leads in the range that a person worked on: "
                            "median seconds from creation to the first note, stage move or edit by a person",
                        },
                    },
                },
            },
            "by_utm_medium": _by("utm_medium"),
            "by_utm_content": _by("utm_content"),
        },
    },
)
FUNNEL_SCHEMA = api_schema(
    "QuizFunnel",
    {
        "type": "object",
        "required": ["views", "starts", "completions", "questions"],
        "properties": {
            "views": {"type": "integer"},
            "starts": {"type": "integer"},
            "completions": {"type": "integer"},
            "completion_rate": {"type": "number", "nullable": True, "description": "percent of starts"},
            "median_seconds_to_complete": {"type": "number", "nullable": True},
            "questions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "question_id": {"type": "integer"},
                        "title": {"type": "string"},
                        "reached": {"type": "integer"},
                        "answered": {"type": "integer"},
                        "dropped": {"type": "integer", "description": "left with this as the last question reached"},
                    },
                },
            },
            "by_device": {"type": "array", "items": {"type": "object"}},
        },
    },
)
ERRORS = {
    "400": {"description": "A bad from/to (or detail)"},
    "403": {"description": "Without analytics.view"},
}


def _range(request: Request, context: ReportContext, *, required: bool = True) -> DayRange | None:
    if not required and not request.params.get("from") and not request.params.get("to"):
        return None
    try:
        return context.range(request)
    except RangeError as error:
        raise APIError(400, str(error), error.fields) from None


@api_operation(
    "api_analytics_summary",
    "/api/v1/analytics/summary",
    "get",
    summary="Leads, won leads and won value of a date range, by source, quiz, campaign and owner",
    description="Days are counted in the company's time zone; both days are included. "
    "`detail=utm` adds the breakdowns by UTM medium and by UTM content.",
    parameters=[*RANGE_PARAMETERS, DETAIL_PARAMETER],
    responses={"200": {"description": "The summary", "content": {JSON: {"schema": SUMMARY_SCHEMA}}}, **ERRORS},
)
@view_config(route_name="api_analytics_summary", request_method="GET", renderer="json", permission="analytics.view")
def api_summary(request: Request):
    try:
        detail = parse_detail(request.params)
    except DetailError as error:
        raise APIError(400, str(error), error.fields) from None
    context = ReportContext.of(request)
    span = _range(request, context)
    session, company_id = request.dbsession, context.company.id
    data = reports.summary(session, company_id, span).as_json()
    by_owner, median_days = reports.owners(session, company_id, span)
    data.update(time_zone=context.zone_name, median_days_to_win=median_days, by_owner=by_owner)
    if detail == "utm":
        data.update(reports.utm_detail(session, company_id, span))
    return data


@api_operation(
    "api_analytics_funnel",
    "/api/v1/analytics/quizzes/{quiz_id}/funnel",
    "get",
    summary="A quiz's funnel: views, starts, completions and each question's reached, answered, dropped",
    description="All time, or the days from/to (company time zone). Funnel events trail by the recorder's flush.",
    parameters=RANGE_PARAMETERS,
    responses={
        "200": {"description": "The funnel", "content": {JSON: {"schema": FUNNEL_SCHEMA}}},
        "404": {"description": "No such quiz in the company"},
        **ERRORS,
    },
)
@view_config(route_name="api_analytics_funnel", request_method="GET", renderer="json", permission="analytics.view")
def api_funnel(request: Request):
    context = ReportContext.of(request)
    quiz = quiz_or_404(request, context.company.id)
    span = _range(request, context, required=False)
    return reports.quiz_funnel(request.dbsession, context.company.id, quiz, span, context.zone)
