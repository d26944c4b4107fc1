"""The analytics pages: the dashboard (/analytics), a quiz's funnel
(/analytics/quizzes/{id}) and their tables as CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from orbitflow_plugins.analytics import reports
from orbitflow_plugins.analytics.context import ReportContext, quiz_or_404
from orbitflow_plugins.analytics.days import today, utc_bounds
from orbitflow_plugins.analytics.detail import DetailError, parse_detail
from orbitflow_plugins.analytics.links import LeadLinks
from orbitflow_plugins.analytics.ranges import DEFAULT_PRESET, PRESETS, DayRange, RangeError, preset_range

GRAINS = ("day", "week", "month")


def _span(request: Request, context: ReportContext) -> tuple[DayRange, str | None]:
    """The report's range, or the default one and why the asked one is refused (the
    page then answers 400 and shows the default range under the message)."""
    try:
        return context.range(request), None
    except RangeError as error:
        return preset_range(DEFAULT_PRESET, today(context.zone)), str(error)


def _typed(request: Request) -> dict[str, str]:
    """The range as typed, for the form to show again beside its error."""
    return {key: (request.params.get(key) or "").strip()[:40] for key in ("from", "to")}


def windows(first: date, last: date, zone: ZoneInfo) -> tuple[dict[str, str], dict[str, str]]:
    """The lead list's filters for the leads that came in, and those first won, during the
    local days ``first`` to ``last``."""
    start, end = (moment.isoformat() + "Z" for moment in utc_bounds(first, last, zone))
    return {"created_from": start, "created_to": end}, {"won_from": start, "won_to": end}


def _grouped(series: list[dict[str, Any]], grain: str, zone: ZoneInfo) -> list[dict[str, Any]]:
    buckets: dict[str, dict[str, Any]] = {}
    for point in series:
        day = date.fromisoformat(point["day"])
        if grain == "week":
            label = (day.fromordinal(day.toordinal() - day.weekday())).isoformat()
        elif grain == "month":
            label = day.strftime("%Y-%m")
        else:
            label = point["day"]
        bucket = buckets.setdefault(label, {"period": label, "leads": 0, "won": 0, "first": day})
        bucket["leads"] += point["leads"]
        bucket["won"] += point["won"]
        bucket["last"] = day
    for bucket in buckets.values():
        # The days of the bucket that count anything: its links cover exactly its numbers.
        bucket["came_in"], bucket["won_in"] = windows(bucket.pop("first"), bucket.pop("last"), zone)
    return list(buckets.values())


def dashboard_data(request: Request) -> dict[str, Any]:
    """Raises :class:`~orbitflow_plugins.analytics.detail.DetailError` for a bad ``detail``."""
    detail = parse_detail(request.params)
    context = ReportContext.of(request)
    span, error = _span(request, context)
    session, company_id = request.dbsession, context.company.id
    summary = reports.summary(session, company_id, span)
    owners, median_days = reports.owners(session, company_id, span)
    grain = request.params.get("grain") if request.params.get("grain") in GRAINS else "day"
    came_in, won_in = windows(span.first, span.last, context.zone)
    previous_came_in, previous_won_in = windows(span.previous().first, span.previous().last, context.zone)
    return {
        # The lead list's filters for "came in during the range" and "first won during it".
        "came_in": came_in,
        "won_in": won_in,
        "previous_came_in": previous_came_in,
        "previous_won_in": previous_won_in,
        "context": context,
        "span": span,
        "error": error,
        "typed": _typed(request) if error else {},
        "detail": detail,
        "summary": summary,
        "utm": reports.utm_detail(session, company_id, span) if detail == "utm" else None,
        "totals": summary.totals,
        "previous": summary.previous,
        "series": _grouped(summary.series, grain, context.zone),
        "grain": grain,
        "pipeline": reports.pipeline(session, company_id),
        "owners": owners,
        "median_days": median_days,
        "presets": PRESETS,
        "preset": request.params.get("preset") if not request.params.get("from") else "custom",
    }


def chart_payload(data: dict[str, Any]) -> dict[str, Any]:
    """What static/analytics.js draws: one entry per chart, labels and series."""
    s = data["summary"]
    return {
        "leads_over_time": {
            "type": "line",
            "labels": [p["period"] for p in data["series"]],
            "series": {"New leads": [p["leads"] for p in data["series"]], "Won": [p["won"] for p in data["series"]]},
        },
        "pipeline": {
            "type": "bar",
            "labels": [row["name"] for row in data["pipeline"]],
            "series": {"Leads": [row["leads"] for row in data["pipeline"]]},
        },
        "by_source": {
            "type": "bar",
            "labels": [row["source"] for row in s.by_source],
            "series": {"Leads": [r["leads"] for r in s.by_source], "Won": [r["won"] for r in s.by_source]},
        },
        "by_quiz": {
            "type": "bar",
            "labels": [row["title"] for row in s.by_quiz],
            "series": {
                "Views": [r["views"] for r in s.by_quiz],
                "Starts": [r["starts"] for r in s.by_quiz],
                "Completions": [r["completions"] for r in s.by_quiz],
                "Leads": [r["leads"] for r in s.by_quiz],
                "Won": [r["won"] for r in s.by_quiz],
            },
        },
        "by_campaign": {
            "type": "bar",
            "labels": [f"{r['utm_source'] or '(none)'} / {r['utm_campaign'] or '(none)'}" for r in s.by_campaign],
            "series": {"Leads": [r["leads"] for r in s.by_campaign], "Won": [r["won"] for r in s.by_campaign]},
        },
        "by_owner": {
            "type": "bar",
            "labels": [row["name"] for row in data["owners"]],
            "series": {"Leads": [r["leads"] for r in data["owners"]], "Won": [r["won"] for r in data["owners"]]},
        },
        **(_utm_charts(data["utm"]) if data["utm"] is not None else {}),
    }


def _utm_charts(utm: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    charts = {}
    for table, key in (("by_utm_medium", "utm_medium"), ("by_utm_content", "utm_content")):
        rows = utm[table]
        charts[table] = {
            "type": "bar",
            "labels": [row[key] or "(none)" for row in rows],
            "series": {"Leads": [r["leads"] for r in rows], "Won": [r["won"] for r in rows]},
        }
    return charts


@view_config(route_name="analytics", renderer="analytics_dashboard.jinja2", permission="analytics.view")
def dashboard(request: Request):
    try:
        data = dashboard_data(request)
    except DetailError as error:
        response = render_to_response(
            "error.jinja2", {"status": 400, "title": "Not a report option", "message": str(error)}, request=request
        )
        response.status_int = 400
        return response
    if data["error"]:
        request.response.status_int = 400
    return {**data, "charts": chart_payload(data), "lead_link": LeadLinks(request)}


def _csv(filename: str, header: list[str], rows: list[list[Any]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    response = Response(out.getvalue(), content_type="text/csv", charset="utf-8")
    response.content_disposition = f'attachment; filename="{filename}"'
    return response


@view_config(route_name="analytics_csv", permission="analytics.view")
def dashboard_csv(request: Request):
    try:
        data = dashboard_data(request)
    except DetailError as error:
        return Response(str(error), status=400, content_type="text/plain", charset="utf-8")
    if data["error"]:
        return Response(data["error"], status=400, content_type="text/plain", charset="utf-8")
    chart = chart_payload(data).get(request.matchdict["table"])
    if chart is None:
        from pyramid.httpexceptions import HTTPNotFound

        raise HTTPNotFound()
    names = list(chart["series"])
    rows = [[label, *(chart["series"][n][i] for n in names)] for i, label in enumerate(chart["labels"])]
    span = data["span"]
    return _csv(f"{request.matchdict['table']}-{span.first}-{span.last}.csv", ["", *names], rows)


@view_config(route_name="analytics_quiz", renderer="analytics_funnel.jinja2", permission="analytics.view")
def funnel_page(request: Request):
    context = ReportContext.of(request)
    quiz = quiz_or_404(request, context.company.id)
    span, error = _span(request, context)
    if error and request.params.get("format") == "csv":
        return Response(error, status=400, content_type="text/plain", charset="utf-8")
    funnel = reports.quiz_funnel(request.dbsession, context.company.id, quiz, span, context.zone)
    charts = {
        "questions": {
            "type": "bar",
            "labels": [q["title"] for q in funnel["questions"]],
            "series": {
                "Reached": [q["reached"] for q in funnel["questions"]],
                "Answered": [q["answered"] for q in funnel["questions"]],
                "Dropped": [q["dropped"] for q in funnel["questions"]],
            },
        },
        "devices": {
            "type": "bar",
            "labels": [d["device"] for d in funnel["by_device"]],
            "series": {
                "Views": [d["views"] for d in funnel["by_device"]],
                "Starts": [d["starts"] for d in funnel["by_device"]],
                "Completions": [d["completions"] for d in funnel["by_device"]],
            },
        },
    }
    if request.params.get("format") == "csv":
        table = charts.get(request.params.get("table", "questions"), charts["questions"])
        names = list(table["series"])
        rows = [[label, *(table["series"][n][i] for n in names)] for i, label in enumerate(table["labels"])]
        return _csv(f"quiz-{quiz.id}-funnel-{span.first}-{span.last}.csv", ["", *names], rows)
    if error:
        request.response.status_int = 400
    return {
        "context": context,
        "quiz": quiz,
        "span": span,
        "error": error,
        "typed": _typed(request) if error else {},
        "funnel": funnel,
        "charts": charts,
        "presets": PRESETS,
        "preset": request.params.get("preset") if not request.params.get("from") else "custom",
    }
