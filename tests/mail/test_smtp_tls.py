"""Lead e-mails to a real SMTP server over TLS: STARTTLS on ``smtp://`` and implicit TLS on
``smtps://``, each with a login, the server's certificate verified against a CA the test
makes (trusted through SSL_CERT_FILE, as an operator with a private CA would), and what
happens when the certificate, the password or the server's TLS support is wrong."""

from __future__ import annotations

import ssl

import pytest
import trustme
import webtest
from sqlalchemy import select

from mail.smtpkit import MailSink
from orbitflow.app import make_app
from orbitflow.deliveries import Delivery, worker_for
from support import csrf_token, login

CREDENTIALS = ("mailer", "s3cret pass")


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def certificate(authority) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def trusted(authority, tmp_path, monkeypatch) -> None:
    """Makes the sending process trust the test's CA, as SSL_CERT_FILE does for any OpenSSL
    program."""
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))


@pytest.fixture
def start_sink():
    started: list[MailSink] = []

    def start(**options) -> MailSink:
        sink = MailSink(**options).start()
        started.append(sink)
        return sink

    yield start
    for sink in started:
        sink.stop()


@pytest.fixture
def team(make_company, make_user):
    company = make_company(name="Tls Co")
    return {
        "owner": make_user(company, "OWNER", username="olga", name="Olga Owner", email="olga@example.com"),
        "agent": make_user(company, "AGENT", username="alex", name="Alex Agent", email="alex@example.com"),
    }


@pytest.fixture
def lead_mail(backend, team, db):
    """Creates a lead for the agent through the API with SMTP_URL set to `url`, runs the
    outbox, and answers the e-mail delivery row as stored."""

    def run(url: str) -> Delivery:
        app = make_app(backend.ini(), environ={"SMTP_URL": url, "MAIL_FROM": "crm@example.com"}, engine=backend.engine)
        client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "10.0.0.1"})
        login(client, team["owner"])
        client.post_json(
            "/api/v1/leads",
            {"name": "Grace Hopper", "owner_id": team["agent"].id},
            headers={"X-CSRF-Token": csrf_token(client)},
            status=201,
        )
        worker_for(app.registry).run_until_idle()
        db.expire_all()
        return db.scalars(select(Delivery).where(Delivery.channel == "email")).one()

    return run


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_mail_is_sent_over_verified_tls_with_the_login(mode, start_sink, certificate, trusted, lead_mail):
    sink = start_sink(tls=mode, certificate=certificate, credentials=CREDENTIALS)
    assert sink.url.startswith(("smtps://" if mode == "implicit" else "smtp://") + "mailer:s3cret%20pass@")
    delivery = lead_mail(sink.url)
    assert (delivery.status, delivery.last_status_code) == ("delivered", 250)
    [mail] = sink.received
    assert mail.recipients == ["alex@example.com"]
    assert mail.subject == "New lead for you: Grace Hopper"
    assert mail.tls_version in {"TLSv1.2", "TLSv1.3"}
    assert mail.login == "mailer"


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_an_untrusted_certificate_sends_nothing_and_keeps_the_mail(mode, start_sink, certificate, lead_mail):
    sink = start_sink(tls=mode, certificate=certificate, credentials=CREDENTIALS)
    delivery = lead_mail(sink.url)
    assert sink.received == []
    assert delivery.status == "pending"
    assert "CERTIFICATE_VERIFY_FAILED" in delivery.last_excerpt


def test_verify_false_accepts_a_local_relay_certificate(start_sink, certificate, lead_mail):
    sink = start_sink(tls="starttls", certificate=certificate, credentials=CREDENTIALS)
    delivery = lead_mail(sink.url + "?verify=false")
    assert delivery.status == "delivered"
    [mail] = sink.received
    assert mail.tls_version is not None


def test_a_wrong_password_keeps_the_mail_for_the_operator_to_fix(start_sink, certificate, trusted, lead_mail):
    sink = start_sink(tls="starttls", certificate=certificate, credentials=CREDENTIALS)
    delivery = lead_mail(f"smtp://mailer:wrong@127.0.0.1:{sink.port}")
    assert sink.received == []
    assert (delivery.status, delivery.last_status_code) == ("pending", 535)


def test_a_server_without_starttls_never_gets_the_password(start_sink, lead_mail):
    sink = start_sink()
    delivery = lead_mail(f"smtp://mailer:secret@127.0.0.1:{sink.port}")
    assert sink.received == []
    assert delivery.status == "pending"
    assert delivery.last_excerpt == "the server offers no STARTTLS; refusing to send the password in clear"
