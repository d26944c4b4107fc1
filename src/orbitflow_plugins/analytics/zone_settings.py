"""Settings → Reports time zone: the IANA zone the company's reports count days in.
Saving it rebuilds the company's daily counts in the same transaction."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.tenants.models import Company
from orbitflow.tenants.settings_page import save_company_settings
from orbitflow.tenants.zones import installation_zone, valid_zone
from orbitflow_plugins.analytics.rebuild import rebuild


@lru_cache(maxsize=1)
def zone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def _rebuild(request: Request, company: Company) -> None:
    request.dbsession.flush()
    rebuild(request.dbsession.connection(), company.id)


@view_config(
    route_name="analytics_time_zone",
    request_method=("GET", "POST"),
    renderer="analytics_time_zone.jinja2",
    permission="company.settings",
)
def time_zone_settings(request: Request):
    company = request.dbsession.get(Company, request.identity.company_id)
    chosen = company.time_zone or ""
    errors: dict[str, str] = {}
    if request.method == "POST":
        chosen = (request.POST.get("time_zone") or "").strip()
        if chosen and (len(chosen) > 64 or not valid_zone(chosen) or chosen not in zone_names()):
            errors["time_zone"] = "Choose a time zone from the list, such as Europe/Berlin."
        else:
            return save_company_settings(
                request,
                company,
                {"time_zone": chosen or None},
                saved="Time zone saved; the reports now count days in it.",
                route_name="analytics_time_zone",
                on_change=lambda changed: _rebuild(request, changed),
            )
        request.response.status_int = 400
    return {"chosen": chosen, "errors": errors, "zones": zone_names(), "installation_zone": installation_zone()}
