"""Tenants: companies, plans and quotas, and each company's locale and settings pages."""


def includeme(config) -> None:
    config.add_request_method("orbitflow.tenants.locale.request_locale", "company_locale", reify=True)
    config.add_route("company_region", "/settings/region")
    # The page's earlier address (time zone only), for bookmarks.
    config.add_route("company_region_old", "/settings/time-zone")
    config.add_route("api_company_locale", "/api/v1/company/locale")
    config.scan("orbitflow.tenants.region_views")
    config.scan("orbitflow.tenants.api")
