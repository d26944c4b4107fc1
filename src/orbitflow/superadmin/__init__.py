"""The super admin area: companies, users of any company, logs, impersonation."""


def includeme(config) -> None:
    config.include(".sections")
    config.include(".views")
    config.include(".users")
    config.include(".impersonation")
    config.include(".syslog_viewer")
