"""Accounts: users, sign-in, sessions, profile, API keys."""


def includeme(config) -> None:
    from orbitflow.accounts.passwords import MIN_LENGTH, use_password_hashing
    from orbitflow.config import get_settings
    from orbitflow.security import ROLE_LABELS

    use_password_hashing(get_settings(config.registry).password_hashing)

    env = config.get_jinja2_environment(".jinja2")
    env.globals.update(role_labels=ROLE_LABELS, min_password_length=MIN_LENGTH)
    config.include(".views")
