"""The system log: errors stored for super admins, and the browser error endpoint."""


def includeme(config) -> None:
    config.include(".views")
