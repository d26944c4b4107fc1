"""Accounts: users, sign-in, sessions, profile, API keys."""


def includeme(config) -> None:
    from orbitflow.accounts.passwords import MIN_LENGTH, use_password_hashing
    from orbitflow.security import ROLE_LABELS

    use_password_hashing(config.registry["orbitflow.settings"].password_hashing)

    env = config.get_jinja2_environment(".jinja2")
    env.globals.update(role_labels=ROLE_LABELS, min_password_length=MIN_LENGTH)
    config.include(".views")
