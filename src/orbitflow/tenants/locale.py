"""A company's locale: the country its phone numbers are read in, the currency of its
lead values and the time zone its dates are shown in (and its reports count days in).

A company that has not chosen a country or a time zone has the installation's
(``orbitflow.default_phone_region``, ``TZ``). Names and formats come from the Unicode
CLDR through Babel; the countries are those phonenumbers can read numbers of."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from babel import Locale, localedata
from babel.numbers import format_currency, get_currency_name, get_territory_currencies
from pyramid.request import Request

from orbitflow.config import Settings, get_settings
from orbitflow.tenants.models import Company
from orbitflow.tenants.zones import valid_zone, zone, zone_names

# The stored fields, in the order the settings page and the API show them.
LOCALE_FIELDS = ("phone_region", "currency", "time_zone")
ENGLISH = Locale.parse("en")
REGION_MESSAGE = "Choose a country from the list, such as DE for Germany."
CURRENCY_MESSAGE = "Choose a currency from the list, such as EUR."
ZONE_MESSAGE = "Choose a time zone from the list, such as Europe/Berlin."


@lru_cache(maxsize=1)
def regions() -> dict[str, str]:
    """Country code -> English name, by name."""
    names = ENGLISH.territories
    found = {code: names.get(code, code) for code in phonenumbers.SUPPORTED_REGIONS}
    return dict(sorted(found.items(), key=lambda item: item[1]))


@lru_cache(maxsize=1)
def currencies() -> dict[str, str]:
    """ISO 4217 code -> English name of every currency some country uses today, by code."""
    today = date.today()
    codes = {code for region in regions() for code in get_territory_currencies(region, today)}
    return {code: get_currency_name(code, locale=ENGLISH) for code in sorted(codes)}


def check_locale(values: dict[str, str | None]) -> dict[str, str]:
    """Messages by field for the locale ``values`` given (``None``, where allowed, means
    the installation's)."""
    errors: dict[str, str] = {}
    if "phone_region" in values and values["phone_region"] is not None and values["phone_region"] not in regions():
        errors["phone_region"] = REGION_MESSAGE
    if "currency" in values and values["currency"] not in currencies():
        errors["currency"] = CURRENCY_MESSAGE
    if "time_zone" in values and values["time_zone"] is not None and not valid_zone(values["time_zone"]):
        errors["time_zone"] = ZONE_MESSAGE
    return errors


def clean_locale(raw: dict[str, object]) -> dict[str, str | None]:
    """Typed form or JSON values as stored: trimmed, codes upper-cased, empty as ``None``."""
    clean: dict[str, str | None] = {}
    for key in LOCALE_FIELDS:
        if key not in raw:
            continue
        value = raw[key]
        text = value.strip() if isinstance(value, str) else value
        if key != "time_zone" and isinstance(text, str):
            text = text.upper()
        clean[key] = text or None  # type: ignore[assignment]
    return clean


class LocaleError(ValueError):
    """Locale values refused, with a message by field."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{key}: {message}" for key, message in fields.items()))
        self.fields = fields


def read_locale(raw: Mapping[str, object]) -> dict[str, str | None]:
    """The locale fields present in ``raw`` (a form post or a JSON body), as stored.
    Raises :class:`LocaleError` with the settings page's messages. Fields left out are
    not in the result, so they keep their values."""
    values = clean_locale({key: raw[key] for key in LOCALE_FIELDS if key in raw})
    errors = check_locale(values)
    if errors:
        raise LocaleError(errors)
    return values


@lru_cache(maxsize=512)
def _number_locale(region: str) -> Locale:
    # English words, the country's number and currency layout (en_DE: 1.234,50 €).
    name = f"en_{region}"
    return Locale.parse(name) if localedata.exists(name) else ENGLISH


@dataclass(frozen=True)
class CompanyLocale:
    phone_region: str
    currency: str
    time_zone: str

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.time_zone)

    @property
    def country_name(self) -> str:
        return regions().get(self.phone_region, self.phone_region)

    @property
    def number_locale(self) -> str:
        """The BCP 47 tag the browser formats amounts with, as the pages do (en-DE)."""
        return str(_number_locale(self.phone_region)).replace("_", "-")

    def money(self, value: Decimal | float | int | None) -> str:
        """An amount in the company's currency: ``$1,250.50``, ``1.250,50 €``, ``¥1,251``."""
        if value is None:
            return "—"
        with localcontext() as context:
            context.rounding = ROUND_HALF_UP  # 1,250.50 yen show as ¥1,251, as a person rounds
            return format_currency(value, self.currency, locale=_number_locale(self.phone_region))


def locale_of(company: Company | None, settings: Settings) -> CompanyLocale:
    """The locale ``company`` works in (the installation's defaults for None)."""
    return CompanyLocale(
        phone_region=(company.phone_region if company is not None else None) or settings.default_phone_region,
        currency=company.currency if company is not None else "USD",
        time_zone=(company.time_zone if company is not None else None) or settings.timezone,
    )


def request_locale(request: Request) -> CompanyLocale:
    """``request.company_locale``: the signed-in user's company's locale. Signed out
    (public pages, an error page whose database failed) the installation's."""
    company = None
    if request.identity is not None:
        from orbitflow.db import unscoped

        with unscoped(request.dbsession):
            company = request.dbsession.get(Company, request.identity.company_id)
    return locale_of(company, get_settings(request.registry))


def locale_choices(settings: Settings) -> dict[str, object]:
    """The options of the locale fields (:file:`tenants/templates/_locale_fields.jinja2`)."""
    names = regions()
    return {
        "regions": [(code, f"{name} ({code})") for code, name in names.items()],
        "currencies": [(code, f"{code} — {name}") for code, name in currencies().items()],
        "zones": [(name, name) for name in zone_names()],
        "default_region_name": names.get(settings.default_phone_region, settings.default_phone_region),
        "default_zone": settings.timezone,
    }


def locale_form(company: Company) -> dict[str, str]:
    """The locale fields of ``company`` as a form shows them (empty: the installation's)."""
    return {key: getattr(company, key) or "" for key in LOCALE_FIELDS}


# The locale fields in the API's company objects (read and written as stored).
LOCALE_SCHEMA: dict[str, dict[str, object]] = {
    "phone_region": {
        "type": "string",
        "pattern": "^[A-Z]{2}$",
        "nullable": True,
        "example": "DE",
        "description": "ISO 3166 country whose phone numbers are read without a country code; "
        "null: the installation's (orbitflow.default_phone_region)",
    },
    "currency": {
        "type": "string",
        "pattern": "^[A-Z]{3}$",
        "example": "EUR",
        "description": "ISO 4217 currency of lead values",
    },
    "time_zone": {
        "type": "string",
        "maxLength": 64,
        "nullable": True,
        "example": "Europe/Berlin",
        "description": "IANA time zone of the company's pages and reports; null: the installation's (TZ)",
    },
}


def locale_json(company: Company) -> dict[str, str | None]:
    return {key: getattr(company, key) for key in LOCALE_FIELDS}
