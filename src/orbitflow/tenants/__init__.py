"""Tenants: companies, plans and quotas."""


def includeme(config) -> None:
    pass
