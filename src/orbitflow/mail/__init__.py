"""E-mail: notifications about leads and account messages, sent through the outbox
(channel ``email``) by SMTP (``SMTP_URL``, ``MAIL_FROM``)."""

from __future__ import annotations


def includeme(config) -> None:
    config.include("orbitflow.mail.views")
    config.include("orbitflow.accounts.links_views")
