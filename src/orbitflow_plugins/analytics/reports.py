"""The numbers of the analytics dashboard and the quiz funnel, read from the daily
counts. Each function takes the company's session and issues a fixed number of
statements, whatever the number of leads or events."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, literal, select, union_all
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User
from orbitflow.leads.models import Lead, Stage
from orbitflow_plugins.analytics.days import utc_bounds
from orbitflow_plugins.analytics.medians import median_select, seconds_between
from orbitflow_plugins.analytics.models import FunnelDaily, LeadDaily, LeadFact
from orbitflow_plugins.analytics.ranges import DayRange
from orbitflow_plugins.quiz.models import Quiz, QuizQuestion, QuizSubmission

ZERO = Decimal("0")


def rate(part: int, whole: int) -> float | None:
    """A percentage with one decimal; None when there is nothing to divide by."""
    return round(100.0 * part / whole, 1) if whole else None


def money(value: Any) -> float:
    return float(value or 0)


def _number(value: Any) -> int | float | None:
    """A median as the API shows it: whole numbers without a fraction."""
    if value is None:
        return None
    value = float(value)
    return int(value) if value.is_integer() else value


@dataclass
class Totals:
    leads: int = 0
    won: int = 0
    won_value: Decimal = ZERO
    cohort_won: int = 0

    def add(self, leads: Any, won: Any, won_value: Any, cohort_won: Any) -> None:
        self.leads += int(leads or 0)
        self.won += int(won or 0)
        self.won_value += Decimal(won_value or 0)
        self.cohort_won += int(cohort_won or 0)

    @property
    def conversion_rate(self) -> float | None:
        return rate(self.cohort_won, self.leads)

    def as_json(self) -> dict[str, Any]:
        return {
            "leads": self.leads,
            "won": self.won,
            "won_value": money(self.won_value),
            "conversion_rate": self.conversion_rate,
        }


@dataclass
class Summary:
    range: DayRange
    totals: Totals
    previous: Totals
    series: list[dict[str, Any]]
    by_source: list[dict[str, Any]]
    by_quiz: list[dict[str, Any]]
    by_campaign: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.range.first.isoformat(),
            "to": self.range.last.isoformat(),
            **self.totals.as_json(),
            "previous": {
                "from": self.range.previous().first.isoformat(),
                "to": self.range.previous().last.isoformat(),
                **self.previous.as_json(),
            },
            "by_source": self.by_source,
            "by_quiz": self.by_quiz,
            "by_campaign": self.by_campaign,
        }


def _counts_index(query: Select[Any]) -> Select[Any]:
    """Read the daily lead counts through the index that holds every column read: MariaDB
    otherwise takes the unique key's ``company_id`` prefix and looks up each row."""
    hint = "FORCE INDEX (ix_analytics_lead_daily_company_day_counts)"
    return query.with_hint(LeadDaily, hint, "mysql").with_hint(LeadDaily, hint, "mariadb")


def _daily_series(session: Session, company_id: int, span: DayRange) -> tuple[Totals, Totals, list[dict[str, Any]]]:
    previous = span.previous()
    rows = session.execute(
        _counts_index(
            select(
                LeadDaily.day,
                func.sum(LeadDaily.leads),
                func.sum(LeadDaily.won),
                func.sum(LeadDaily.won_value),
                func.sum(LeadDaily.cohort_won),
            )
            .where(LeadDaily.company_id == company_id, LeadDaily.day.between(previous.first, span.last))
            .group_by(LeadDaily.day)
            .order_by(LeadDaily.day)
        )
    ).all()
    now, before = Totals(), Totals()
    series = []
    for day, leads, won, won_value, cohort_won in rows:
        if day >= span.first:
            now.add(leads, won, won_value, cohort_won)
            series.append({"day": day.isoformat(), "leads": int(leads or 0), "won": int(won or 0)})
        else:
            before.add(leads, won, won_value, cohort_won)
    return now, before, series


def _breakdowns(session: Session, company_id: int, span: DayRange) -> tuple[dict, dict, dict]:
    rows = session.execute(
        _counts_index(
            select(
                LeadDaily.source,
                LeadDaily.quiz_id,
                LeadDaily.utm_source,
                LeadDaily.utm_campaign,
                func.sum(LeadDaily.leads),
                func.sum(LeadDaily.won),
                func.sum(LeadDaily.won_value),
                func.sum(LeadDaily.cohort_won),
            )
            .where(LeadDaily.company_id == company_id, LeadDaily.day.between(span.first, span.last))
            .group_by(LeadDaily.source, LeadDaily.quiz_id, LeadDaily.utm_source, LeadDaily.utm_campaign)
        )
    ).all()
    by_source: dict[str, Totals] = defaultdict(Totals)
    by_quiz: dict[int, Totals] = defaultdict(Totals)
    by_campaign: dict[tuple[str, str], Totals] = defaultdict(Totals)
    for source, quiz_id, utm_source, utm_campaign, *measures in rows:
        by_source[source].add(*measures)
        by_quiz[quiz_id].add(*measures)
        by_campaign[(utm_source, utm_campaign)].add(*measures)
    return by_source, by_quiz, by_campaign


def _quiz_steps(session: Session, company_id: int, span: DayRange) -> list[tuple[int, str, str, dict[str, int]]]:
    """Every quiz of the company (archived ones only with events) with its views, starts
    and completions in the range."""
    counts = (
        select(FunnelDaily.quiz_id, FunnelDaily.kind, func.sum(FunnelDaily.events).label("events"))
        .where(
            FunnelDaily.company_id == company_id,
            FunnelDaily.day.between(span.first, span.last),
            FunnelDaily.question_id == 0,
        )
        .group_by(FunnelDaily.quiz_id, FunnelDaily.kind)
        .subquery()
    )
    rows = session.execute(
        select(Quiz.id, Quiz.title, Quiz.status, counts.c.kind, counts.c.events)
        .outerjoin(counts, counts.c.quiz_id == Quiz.id)
        .where(Quiz.company_id == company_id)
        .order_by(Quiz.title, Quiz.id)
    ).all()
    quizzes: dict[int, tuple[str, str, dict[str, int]]] = {}
    for quiz_id, title, status, kind, events in rows:
        entry = quizzes.setdefault(quiz_id, (title, status, {}))
        if kind is not None:
            entry[2][kind] = int(events or 0)
    return [(quiz_id, title, status, steps) for quiz_id, (title, status, steps) in quizzes.items()]


def summary(session: Session, company_id: int, span: DayRange) -> Summary:
    """Three statements: the days of this and the previous period, the breakdowns, the quizzes."""
    totals, previous, series = _daily_series(session, company_id, span)
    by_source, by_quiz, by_campaign = _breakdowns(session, company_id, span)
    quizzes = _quiz_steps(session, company_id, span)
    quiz_rows = []
    for quiz_id, title, status, steps in quizzes:
        leads = by_quiz.get(quiz_id, Totals())
        if status == "archived" and not steps and not leads.leads:
            continue
        quiz_rows.append(
            {
                "quiz_id": quiz_id,
                "title": title,
                "views": steps.get("view", 0),
                "starts": steps.get("start", 0),
                "completions": steps.get("complete", 0),
                "leads": leads.leads,
                "won": leads.won,
                "won_value": money(leads.won_value),
                "conversion_rate": rate(leads.leads, steps.get("view", 0)),
            }
        )

    def ordered(items):
        return sorted(items, key=lambda item: (-item[1].leads, -item[1].won, str(item[0])))

    return Summary(
        range=span,
        totals=totals,
        previous=previous,
        series=series,
        by_source=[
            {"source": source, "leads": t.leads, "won": t.won, "won_value": money(t.won_value)}
            for source, t in ordered(by_source.items())
            if t.leads or t.won
        ],
        by_quiz=quiz_rows,
        by_campaign=[
            {
                "utm_source": key[0] or None,
                "utm_campaign": key[1] or None,
                "leads": t.leads,
                "won": t.won,
                "won_value": money(t.won_value),
            }
            for key, t in ordered(by_campaign.items())
            if t.leads or t.won
        ],
    )


# -- the rest of the dashboard ----------------------------------------------------------


def pipeline(session: Session, company_id: int) -> list[dict[str, Any]]:
    """Every stage with the leads in it now and their value (one statement)."""
    counts = (
        select(Lead.stage_id, func.count().label("leads"), func.sum(Lead.value).label("value"))
        .where(Lead.company_id == company_id)
        .group_by(Lead.stage_id)
        .subquery()
    )
    rows = session.execute(
        select(Stage.id, Stage.name, Stage.kind, counts.c.leads, counts.c.value)
        .outerjoin(counts, counts.c.stage_id == Stage.id)
        .where(Stage.company_id == company_id)
        .order_by(Stage.position, Stage.id)
    ).all()
    return [{"stage_id": i, "name": n, "kind": k, "leads": int(c or 0), "value": money(v)} for i, n, k, c, v in rows]


def owners(session: Session, company_id: int, span: DayRange) -> tuple[list[dict[str, Any]], float | None]:
    """Leads, won, won value and the median seconds to first activity by owner, and the
    median days from lead to won, in one statement: the range's new leads and its won
    leads counted by owner, and both medians computed by the database."""
    came_in_range = (LeadFact.company_id == company_id, LeadFact.day.between(span.first, span.last))
    came_in = (
        select(
            literal("in").label("part"),
            LeadFact.owner_id.label("owner_id"),
            func.count().label("count"),
            literal(0).label("amount"),
        )
        .where(*came_in_range)
        .group_by(LeadFact.owner_id)
    )
    won_in_range = (LeadFact.company_id == company_id, LeadFact.won_day.between(span.first, span.last))
    won = (
        select(literal("won"), LeadFact.owner_id, func.count(), func.sum(LeadFact.won_value))
        .where(*won_in_range)
        .group_by(LeadFact.owner_id)
    )
    dialect = session.get_bind().dialect
    median = median_select(dialect, seconds_between(LeadFact.won_at, LeadFact.created_at), [], *won_in_range).subquery()
    to_win = select(literal("median"), literal(0), literal(0), median.c.median)
    # Of the range's new leads that a person worked on, by owner.
    activity = median_select(
        dialect, seconds_between(LeadFact.first_activity_at, LeadFact.created_at), [LeadFact.owner_id], *came_in_range
    ).subquery()
    to_activity = select(literal("activity"), activity.c.key_0, literal(0), activity.c.median)
    parts = union_all(came_in, won, to_win, to_activity).subquery()
    rows = session.execute(
        select(parts, User.name, User.username).outerjoin(
            User, and_(User.id == parts.c.owner_id, User.company_id == company_id)
        )
    ).all()
    table: dict[int, dict[str, Any]] = {}
    median_days = None
    for part, owner_id, count, amount, name, username in rows:
        if part == "median":
            median_days = round(float(amount) / 86400, 1) if amount is not None else None
            continue
        entry = table.setdefault(
            owner_id,
            {
                "owner_id": owner_id or None,
                "name": (name or username) if owner_id else "Unassigned",
                "leads": 0,
                "won": 0,
                "won_value": 0.0,
                "median_seconds_to_first_activity": None,
            },
        )
        if part == "in":
            entry["leads"] += int(count)
        elif part == "won":
            entry["won"] += int(count)
            entry["won_value"] = money(amount)
        else:
            entry["median_seconds_to_first_activity"] = _number(amount)
    result = sorted(table.values(), key=lambda e: (-e["leads"], -e["won"], e["name"] or ""))
    return result, median_days


def utm_detail(session: Session, company_id: int, span: DayRange) -> dict[str, list[dict[str, Any]]]:
    """Leads, won and won value by UTM medium and by UTM content (shown on demand), in one
    statement read from the facts: the range's new leads and its won leads, grouped by
    both."""
    dims = (LeadFact.utm_medium, LeadFact.utm_content)
    came_in = (
        select(literal("in").label("part"), *dims, func.count().label("count"), literal(0).label("amount"))
        .where(LeadFact.company_id == company_id, LeadFact.day.between(span.first, span.last))
        .group_by(*dims)
    )
    won = (
        select(literal("won"), *dims, func.count(), func.sum(LeadFact.won_value))
        .where(LeadFact.company_id == company_id, LeadFact.won_day.between(span.first, span.last))
        .group_by(*dims)
    )
    by_medium: dict[str, Totals] = defaultdict(Totals)
    by_content: dict[str, Totals] = defaultdict(Totals)
    for part, medium, content, count, amount in session.execute(union_all(came_in, won)):
        measures = (count, 0, 0, 0) if part == "in" else (0, count, amount, 0)
        by_medium[medium].add(*measures)
        by_content[content].add(*measures)

    def rows(name: str, totals: dict[str, Totals]) -> list[dict[str, Any]]:
        return [
            {name: key or None, "leads": t.leads, "won": t.won, "won_value": money(t.won_value)}
            for key, t in sorted(totals.items(), key=lambda item: (-item[1].leads, -item[1].won, item[0]))
        ]

    return {"by_utm_medium": rows("utm_medium", by_medium), "by_utm_content": rows("utm_content", by_content)}


# -- one quiz's funnel ------------------------------------------------------------------


def quiz_funnel(session: Session, company_id: int, quiz: Quiz, span: DayRange | None, zone) -> dict[str, Any]:
    """Views, starts, completions; per question reached, answered and dropped (a visitor
    who left is charged to the last question they reached); completion rate, median time
    to complete, and the steps by device class. Three statements."""
    questions = list(
        session.execute(
            select(QuizQuestion.id, QuizQuestion.text)
            .where(QuizQuestion.company_id == company_id, QuizQuestion.quiz_id == quiz.id)
            .order_by(QuizQuestion.position, QuizQuestion.id)
        ).all()
    )
    query = (
        select(FunnelDaily.question_id, FunnelDaily.kind, FunnelDaily.device, func.sum(FunnelDaily.events))
        .where(FunnelDaily.company_id == company_id, FunnelDaily.quiz_id == quiz.id)
        .group_by(FunnelDaily.question_id, FunnelDaily.kind, FunnelDaily.device)
    )
    submitted = [QuizSubmission.company_id == company_id, QuizSubmission.quiz_id == quiz.id]
    if span is not None:
        query = query.where(FunnelDaily.day.between(span.first, span.last))
        start, end = utc_bounds(span.first, span.last, zone)
        submitted += [QuizSubmission.created_at >= start, QuizSubmission.created_at < end]
    steps: dict[str, int] = defaultdict(int)
    answered: dict[int, int] = defaultdict(int)
    devices: dict[str, dict[str, int]] = defaultdict(lambda: {"views": 0, "starts": 0, "completions": 0})
    names = {"view": "views", "start": "starts", "complete": "completions"}
    for question_id, kind, device, events in session.execute(query):
        events = int(events or 0)
        if kind == "answer":
            answered[question_id] += events
        else:
            steps[kind] += events
            if kind in names:
                devices[device or "unknown"][names[kind]] += events
    views, starts, completions = steps["view"], steps["start"], steps["complete"]
    # Question 1 is reached by every start; question i+1 by whoever answered question i or
    # a later one, or completed (later answers count too, as questions may be optional).
    later: list[int] = []
    best = completions
    for question_id, _text in reversed(questions):
        best = max(best, answered.get(question_id, 0))
        later.append(best)
    later.reverse()
    reached = [max(starts, later[0]), *later[:-1]] if questions else []
    rows = []
    for index, (question_id, text) in enumerate(questions):
        following = reached[index + 1] if index + 1 < len(reached) else completions
        rows.append(
            {
                "question_id": question_id,
                "title": text,
                "reached": reached[index],
                "answered": answered.get(question_id, 0),
                "dropped": max(reached[index] - following, 0),
            }
        )
    median = median_select(session.get_bind().dialect, QuizSubmission.fill_seconds, [], *submitted)
    median_seconds = session.execute(median).scalar()
    return {
        "quiz_id": quiz.id,
        "title": quiz.title,
        "views": views,
        "starts": starts,
        "completions": completions,
        "completion_rate": rate(completions, starts),
        "median_seconds_to_complete": _number(median_seconds),
        "questions": rows,
        "by_device": [
            {"device": name, **counts, "completion_rate": rate(counts["completions"], counts["starts"])}
            for name, counts in sorted(devices.items())
        ],
    }


__all__ = ["Summary", "Totals", "owners", "pipeline", "quiz_funnel", "summary", "utm_detail"]
