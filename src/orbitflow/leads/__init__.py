"""Leads and the Kanban pipeline."""


def includeme(config) -> None:
    pass
