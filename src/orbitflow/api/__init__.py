"""The JSON API under /api/v1/: shared helpers, and the OpenAPI document."""


def includeme(config) -> None:
    config.include(".openapi")
    config.include(".audit")
    config.include(".admin")
