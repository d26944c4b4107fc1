"""The JSON API under /api/v1/."""


def includeme(config) -> None:
    pass
