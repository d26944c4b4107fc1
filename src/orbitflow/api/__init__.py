"""The JSON API under /api/v1/: shared helpers, the OpenAPI document, and the checking of
request bodies against it."""


def includeme(config) -> None:
    config.include(".openapi")
    config.include(".validation")
    config.include(".audit")
    config.include(".admin")
