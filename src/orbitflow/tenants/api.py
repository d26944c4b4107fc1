"""/api/v1/company/locale: owners and admins read and change the company's country (phone
numbers), currency and time zone, as on Settings → Region and currency."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.api.helpers import json_body
from orbitflow.api.openapi import api_operation, api_schema, ref
from orbitflow.tenants.locale import LOCALE_FIELDS, LOCALE_SCHEMA, LocaleError, locale_json, read_locale
from orbitflow.tenants.models import Company
from orbitflow.tenants.settings_page import apply_company_settings
from orbitflow.web.errors import invalid_fields

PERMISSION = "company.settings"
JSON = "application/json"

api_schema("CompanyLocale", {"type": "object", "required": list(LOCALE_FIELDS), "properties": LOCALE_SCHEMA})
api_schema(
    "CompanyLocaleInput",
    {
        "type": "object",
        "description": "Only the fields sent change. Codes are read as on the settings page (trimmed, any case); "
        "null or an empty string for phone_region or time_zone means the installation's. Values not in the "
        "page's lists are refused with the page's messages.",
        "additionalProperties": False,
        "properties": {
            # No pattern here: the settings page's check gives the message ("de" is DE).
            "phone_region": {"type": "string", "nullable": True, "example": "DE"},
            "currency": {"type": "string", "example": "EUR"},
            "time_zone": {"type": "string", "nullable": True, "example": "Europe/Berlin"},
        },
    },
)


def _ok(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref("CompanyLocale")}}}


def _company(request: Request) -> Company:
    return request.dbsession.get(Company, request.identity.company_id)


@api_operation(
    "api_company_locale",
    "/api/v1/company/locale",
    "get",
    summary="The company's country (phone numbers), currency and time zone",
    tags=["company"],
    responses={"200": _ok("The company's locale")},
)
@view_config(route_name="api_company_locale", request_method="GET", renderer="json", permission=PERMISSION)
def get_locale(request: Request):
    return locale_json(_company(request))


@api_operation(
    "api_company_locale",
    "/api/v1/company/locale",
    "put",
    summary="Change the company's country, currency or time zone",
    description="Audited as `company.update` with the changed fields; a new time zone recounts the analytics days.",
    tags=["company"],
    requestBody={"required": True, "content": {JSON: {"schema": ref("CompanyLocaleInput")}}},
    responses={"200": _ok("The company's locale as saved"), "422": {"description": "Invalid fields"}},
)
@view_config(route_name="api_company_locale", request_method="PUT", renderer="json", permission=PERMISSION)
def put_locale(request: Request):
    company = _company(request)
    try:
        values = read_locale(json_body(request))
    except LocaleError as error:
        raise invalid_fields(error.fields) from None
    apply_company_settings(request, company, values)
    return locale_json(company)
