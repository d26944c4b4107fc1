"""Accounts: users, sign-in, sessions, profile, API keys."""


def includeme(config) -> None:
    config.include(".views")
