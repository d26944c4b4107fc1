"""What every analytics view needs: the company, its time zone and the asked range."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pyramid.httpexceptions import HTTPNotFound
from pyramid.request import Request

from orbitflow.tenants.models import Company
from orbitflow.tenants.zones import zone, zone_name
from orbitflow.web.inputs import parse_id
from orbitflow_plugins.analytics.days import today
from orbitflow_plugins.analytics.ranges import DayRange, parse_range
from orbitflow_plugins.quiz.models import Quiz


@dataclass(frozen=True)
class ReportContext:
    company: Company
    zone_name: str
    zone: ZoneInfo

    @classmethod
    def of(cls, request: Request) -> ReportContext:
        company = request.dbsession.get(Company, request.identity.company_id)
        name = zone_name(company)
        return cls(company, name, zone(name))

    def range(self, request: Request, **kw) -> DayRange:
        """Raises :class:`~orbitflow_plugins.analytics.ranges.RangeError`."""
        return parse_range(request.params, today(self.zone), **kw)


def quiz_or_404(request: Request, company_id: int) -> Quiz:
    """The company's quiz named in the path; another company's is not found."""
    quiz_id = parse_id(request.matchdict.get("quiz_id"))
    quiz = request.dbsession.get(Quiz, quiz_id) if quiz_id is not None else None
    if quiz is None or quiz.company_id != company_id:
        raise HTTPNotFound()
    return quiz
