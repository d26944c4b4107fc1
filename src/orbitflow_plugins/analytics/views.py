"""The analytics pages: the dashboard (/analytics), a quiz's funnel
(/analytics/quizzes/{id}) and their tables as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from orbitflow_plugins.analytics import reports
from orbitflow_plugins.analytics.context import ReportContext, quiz_or_404
from orbitflow_plugins.analytics.days import today, utc_bounds
from orbitflow_plugins.analytics.ranges import DEFAULT_PRESET, PRESETS, DayRange, RangeError, preset_range

GRAINS = ("day", "week", "month")


def _span(request: Request, context: ReportContext) -> tuple[DayRange, str | None]:
    try:
        return context.range(request), None
    except RangeError as error:
        return preset_range(DEFAULT_PRESET, today(context.zone)), str(error)


def _grouped(series: list[dict[str, Any]], grain: str) -> list[dict[str, Any]]:
    from datetime import date

    buckets: dict[str, dict[str, Any]] = {}
    for point in series:
        day = date.fromisoformat(point["day"])
        if grain == "week":
            label = (day.fromordinal(day.toordinal() - day.weekday())).isoformat()
        elif grain == "month":
            label = day.strftime("%Y-%m")
        else:
            label = point["day"]
        bucket = buckets.setdefault(label, {"period": label, "leads": 0, "won": 0})
        bucket["leads"] += point["leads"]
        bucket["won"] += point["won"]
    return list(buckets.values())


def dashboard_data(request: Request) -> dict[str, Any]:
    context = ReportContext.of(request)
    span, error = _span(request, context)
    session, company_id = request.dbsession, context.company.id
    summary = reports.summary(session, company_id, span)
    owners, median_days = reports.owners(session, company_id, span)
    grain = request.params.get("grain") if request.params.get("grain") in GRAINS else "day"
    start, end = utc_bounds(span.first, span.last, context.zone)
    return {
        # The lead list's filters for "came in during the range".
        "came_in": {"created_from": start.isoformat() + "Z", "created_to": end.isoformat() + "Z"},
        "context": context,
        "span": span,
        "error": error,
        "summary": summary,
        "totals": summary.totals,
        "previous": summary.previous,
        "series": _grouped(summary.series, grain),
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
    }


@view_config(route_name="analytics", renderer="analytics_dashboard.jinja2", permission="analytics.view")
def dashboard(request: Request):
    data = dashboard_data(request)
    return {**data, "charts": chart_payload(data)}


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
    data = dashboard_data(request)
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
    return {
        "context": context,
        "quiz": quiz,
        "span": span,
        "error": error,
        "funnel": funnel,
        "charts": charts,
        "presets": PRESETS,
        "preset": request.params.get("preset") if not request.params.get("from") else "custom",
    }
