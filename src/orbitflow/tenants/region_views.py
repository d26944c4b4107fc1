"""Settings → Region and currency: the company's country (phone numbers), currency and
time zone, for owners and admins (a super admin sets them on the company form)."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPMovedPermanently
from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.config import get_settings
from orbitflow.models.meta import utcnow
from orbitflow.tenants.locale import LOCALE_FIELDS, LocaleError, locale_choices, locale_form, read_locale
from orbitflow.tenants.models import Company
from orbitflow.tenants.settings_page import save_company_settings

TEMPLATE = "orbitflow:tenants/templates/region.jinja2"


@view_config(
    route_name="company_region", request_method=("GET", "POST"), renderer=TEMPLATE, permission="company.settings"
)
def region_settings(request: Request):
    company = request.dbsession.get(Company, request.identity.company_id)
    form = locale_form(company)
    errors: dict[str, str] = {}
    if request.method == "POST":
        # A field left out of the post keeps its value.
        form.update({key: request.POST[key].strip() for key in LOCALE_FIELDS if key in request.POST})
        try:
            values = read_locale({key: form[key] for key in LOCALE_FIELDS if key in request.POST})
        except LocaleError as error:
            errors = error.fields
        else:
            return save_company_settings(
                request,
                company,
                values,
                saved="Region and currency saved: values, dates and phone numbers follow them now.",
                route_name="company_region",
            )
        request.response.status_int = 400
    locale = request.company_locale
    return {
        "form": form,
        "errors": errors,
        "choices": locale_choices(get_settings(request.registry)),
        "sample_money": locale.money(1250.5),
        "sample_time": utcnow(),
    }


@view_config(route_name="company_region_old", request_method="GET", permission="company.settings")
def old_address(request: Request):
    return HTTPMovedPermanently(request.route_url("company_region"))
