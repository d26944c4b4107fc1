"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it receives: plain,
with STARTTLS, or with implicit TLS, optionally requiring a login."""

from __future__ import annotations

import email
import email.policy
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from foundation.helpers import free_port


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage
    # The TLS version the message came over (None: in clear) and the login it was sent with.
    tls_version: str | None = None
    login: str | None = None

    @property
    def subject(self) -> str:
        return self.message["Subject"]

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()

    @property
    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()


class MailSink:
    def __init__(
        self,
        refuse_with: str | None = None,
        *,
        tls: Literal["starttls", "implicit"] | None = None,
        certificate: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ):
        self.received: list[ReceivedMail] = []
        self.refuse_with = refuse_with
        self.tls = tls
        self.credentials = credentials
        self.port = free_port()
        options: dict = {}
        if tls == "starttls":
            options = {"tls_context": certificate, "require_starttls": True}
        elif tls == "implicit":
            options = {"ssl_context": certificate}
        if credentials:
            # Like a real submission server: a login is required, and only over TLS. aiosmtpd's
            # own check sees STARTTLS only; with implicit TLS the whole connection is TLS.
            options |= {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": tls != "implicit",
            }
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and (
                auth_data.login.decode(),
                auth_data.password.decode(),
            )
            == self.credentials
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse_with:
            return self.refuse_with
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        secured = server.transport.get_extra_info("ssl_object")
        tls_version = secured.version() if secured else None
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message, tls_version, login))
        return "250 OK"

    @property
    def url(self) -> str:
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        login = "{}:{}@".format(*map(quote, self.credentials)) if self.credentials else ""
        return f"{scheme}://{login}127.0.0.1:{self.port}"

    def start(self) -> MailSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
