"""The ``email`` delivery channel: renders the message from its template when sending
(so links use the current AUTH_URL) and hands it to the SMTP transport."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from orbitflow.config import get_settings
from orbitflow.deliveries import Delivery, SendResult
from orbitflow.mail.transport import Transport, transport_from_url

CHANNEL = "email"

_environment = Environment(
    loader=PackageLoader("orbitflow.mail", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def render(template: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) of ``template`` (``<name>.subject``/``.txt``/``.html``)."""
    subject = _environment.get_template(f"{template}.subject").render(context).strip()
    text = _environment.get_template(f"{template}.txt").render(context)
    html = _environment.get_template(f"{template}.html").render(context)
    return " ".join(subject.split()), text, html


def build_message(delivery: Delivery, *, mail_from: str, base_url: str) -> EmailMessage:
    payload = delivery.payload
    context = {**payload.get("context", {}), "base_url": base_url}
    subject, text, html = render(payload["template"], context)
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = formataddr((payload.get("to_name") or "", delivery.destination))
    message["Subject"] = subject
    # The same Message-ID on every retry, so a receiving server can drop a duplicate.
    domain = mail_from.rsplit("@", 1)[-1].strip("> ")
    message["Message-ID"] = make_msgid(idstring=delivery.event_id, domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class MailChannel:
    name = CHANNEL
    max_batch = 20

    def __init__(self, registry, transport: Transport | None = None):
        settings = get_settings(registry)
        self.mail_from = settings.deliveries.mail_from or f"OrbitFlow <no-reply@{_host(settings.auth_url)}>"
        self.base_url = settings.auth_url
        self.transport = transport or transport_from_url(settings.deliveries.smtp_url)

    def send(self, deliveries: Sequence[Delivery]) -> list[SendResult]:
        if self.transport is None:
            return [SendResult("retry", None, "no SMTP_URL is set: e-mail waits until one is")] * len(deliveries)
        messages, results = [], {}
        for index, delivery in enumerate(deliveries):
            try:
                messages.append((index, build_message(delivery, mail_from=self.mail_from, base_url=self.base_url)))
            except Exception as error:  # a broken payload must not hold up the others
                results[index] = SendResult(
                    "failed", None, f"cannot build the message: {type(error).__name__}: {error}"
                )
        sent = self.transport.send([message for _, message in messages]) if messages else []
        for (index, _), result in zip(messages, sent, strict=True):
            results[index] = result
        return [results[index] for index in range(len(deliveries))]


def _host(url: str) -> str:
    return urlsplit(url).hostname or "localhost"
