"""Sending e-mail: SMTP with STARTTLS (``smtp://``), implicit TLS (``smtps://``), or the
console (``console://``: prints each message, for development)."""

from __future__ import annotations

import smtplib
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlsplit

from orbitflow.deliveries import SendResult

TIMEOUT_SECONDS = 10


class Transport(Protocol):
    def send(self, messages: Sequence[EmailMessage]) -> list[SendResult]: ...


@dataclass(frozen=True)
class SmtpTransport:
    host: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: str | None = None
    # The server's certificate is verified unless the URL says ?verify=false (a local relay).
    verify: bool = True

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=TIMEOUT_SECONDS, context=self._context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS)
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=self._context())
                client.ehlo()
            elif self.username:
                raise smtplib.SMTPException("the server offers no STARTTLS; refusing to send the password in clear")
        if self.username:
            client.login(self.username, self.password or "")
        return client

    def send(self, messages: Sequence[EmailMessage]) -> list[SendResult]:
        try:
            client = self._connect()
        except (smtplib.SMTPException, OSError) as error:
            return [classify(error)] * len(messages)
        results = []
        try:
            for message in messages:
                try:
                    client.send_message(message)
                    results.append(SendResult("delivered", 250, "accepted"))
                except (smtplib.SMTPException, OSError) as error:
                    results.append(classify(error))
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
        return results


def classify(error: Exception) -> SendResult:
    """5xx answers are final; 4xx, time-outs and connection errors are retried."""
    code = getattr(error, "smtp_code", None)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [answer[0] for answer in error.recipients.values()]
        code = codes[0] if codes else None
    text = str(error)[:500]
    # A refused login is the operator's to fix (SMTP_URL): keep the mail until then.
    if not isinstance(error, smtplib.SMTPAuthenticationError) and code is not None and 500 <= code < 600:
        return SendResult("failed", code, text)
    return SendResult("retry", code, text)


class ConsoleTransport:
    """Prints each message to standard output: ``make run`` needs no mail server."""

    def __init__(self, stream=None):
        self.stream = stream

    def send(self, messages: Sequence[EmailMessage]) -> list[SendResult]:
        stream = self.stream or sys.stdout
        for message in messages:
            text = message.get_body(("plain",))
            print(
                f"---- e-mail to {message['To']} ----\nSubject: {message['Subject']}\n\n"
                f"{text.get_content() if text else ''}\n---- end ----",
                file=stream,
                flush=True,
            )
        return [SendResult("delivered", None, "printed to the console")] * len(messages)


def transport_from_url(url: str | None) -> Transport | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme == "console":
        return ConsoleTransport()
    implicit = parts.scheme == "smtps"
    verify = "verify=false" not in (parts.query or "").lower()
    return SmtpTransport(
        host=parts.hostname or "localhost",
        port=parts.port or (465 if implicit else 587),
        implicit_tls=implicit,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        verify=verify,
    )
