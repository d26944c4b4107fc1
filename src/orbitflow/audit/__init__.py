"""The audit log and its viewer."""


def includeme(config) -> None:
    config.include(".views")
