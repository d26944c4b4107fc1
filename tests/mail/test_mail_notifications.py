"""Lead e-mails through the outbox to a real SMTP server (aiosmtpd): who gets them, the
subject and the absolute link, the opt-out, the chosen recipients, refusals and retries."""

from __future__ import annotations

import pytest
import webtest
from sqlalchemy import select

from mail.smtpkit import MailSink
from orbitflow.app import make_app
from orbitflow.audit.models import AuditEntry
from orbitflow.deliveries import Delivery, worker_for
from orbitflow.mail.models import NotificationSettings
from orbitflow.ratelimit import rate_limiter
from support import csrf_token, login

BASE = "http://crm.example.test"


@pytest.fixture(scope="module")
def sink():
    started = MailSink().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def mail_app(backend, sink):
    settings = backend.ini(**{"orbitflow.auth_url": BASE})
    return make_app(
        settings, environ={"SMTP_URL": sink.url, "MAIL_FROM": "OrbitFlow <crm@example.com>"}, engine=backend.engine
    )


@pytest.fixture
def send(mail_app, sink):
    sink.received.clear()

    def run() -> list:
        worker_for(mail_app.registry).run_until_idle()
        return list(sink.received)

    return run


@pytest.fixture
def team(make_company, make_user):
    company = make_company(name="Mail Co")
    return {
        "company": company,
        "owner": make_user(company, "OWNER", username="olga", name="Olga Owner", email="olga@example.com"),
        "owner2": make_user(company, "OWNER", username="omar", name="Omar Owner", email="omar@example.com"),
        "admin": make_user(company, "ADMIN", username="ada", name="Ada Admin", email="ada@example.com"),
        "agent": make_user(company, "AGENT", username="alex", name="Alex Agent", email="alex@example.com"),
    }


@pytest.fixture
def client_of(mail_app, db):
    def make(user) -> webtest.TestApp:
        rate_limiter(mail_app.registry).reset()
        client = webtest.TestApp(mail_app, extra_environ={"HTTP_HOST": "crm.example.test", "REMOTE_ADDR": "10.0.0.1"})
        login(client, user)
        return client

    return make


def _create(client, **body):
    return client.post_json("/api/v1/leads", body, headers={"X-CSRF-Token": csrf_token(client)}, status=201).json


def test_a_lead_assigned_by_someone_else_emails_the_assignee(client_of, team, send):
    lead = _create(client_of(team["owner"]), name="Grace Hopper", email="grace@example.org", owner_id=team["agent"].id)
    [mail] = send()
    assert mail.recipients == ["alex@example.com"]
    assert mail.sender == "crm@example.com"
    assert mail.subject == "New lead for you: Grace Hopper"
    link = f"{BASE}/leads/{lead['id']}"
    assert link in mail.text and f'href="{link}"' in mail.html
    assert "by Olga Owner" in mail.text and "grace@example.org" in mail.text
    assert mail.message["Message-ID"]


def test_an_unassigned_lead_emails_the_owners_but_not_its_maker(client_of, team, send):
    _create(client_of(team["owner"]), name="Nobody's Lead")
    [mail] = send()
    assert mail.recipients == ["omar@example.com"]
    assert mail.subject == "New lead: Nobody's Lead"
    assert "nobody is assigned" in mail.text


def test_own_leads_send_nothing(client_of, team, send):
    _create(client_of(team["agent"]), name="Mine", owner_id=team["agent"].id)
    assert send() == []


def test_assignment_emails_the_new_owner(client_of, team, send):
    owner = client_of(team["owner"])
    lead = _create(owner, name="Reassigned", owner_id=team["owner"].id)
    send()
    owner.patch_json(
        f"/api/v1/leads/{lead['id']}",
        {"owner_id": team["admin"].id, "version": lead["version"]},
        headers={"X-CSRF-Token": csrf_token(owner)},
    )
    [mail] = send()
    assert mail.recipients == ["ada@example.com"]
    assert mail.subject == "Lead assigned to you: Reassigned"
    assert "Olga Owner assigned a lead to you." in mail.text


def test_chosen_recipients_replace_the_owners(client_of, team, send, db):
    admin = client_of(team["admin"])
    page = admin.get("/settings/notifications")
    assert "Alex Agent" in page.text
    admin.post(
        "/settings/notifications",
        {"user_id": [str(team["agent"].id), "999999", "x"], "csrf_token": csrf_token(admin)},
        status=303,
    )
    _create(client_of(team["owner"]), name="For the agent")
    assert [mail.recipients for mail in send()] == [["alex@example.com"]]
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "company.notifications")).one()
    assert entry.changes["unassigned_leads"]["to"] == ["alex"]


def test_users_opt_out_in_their_profile(client_of, team, send, db):
    agent = client_of(team["agent"])
    assert 'name="lead_emails" checked' in agent.get("/settings/profile").text
    agent.post("/settings/profile/notifications", {"csrf_token": csrf_token(agent)}, status=303)
    assert 'name="lead_emails" checked' not in agent.get("/settings/profile").text
    _create(client_of(team["owner"]), name="Unwanted", owner_id=team["agent"].id)
    assert send() == []
    assert (
        db.scalars(select(AuditEntry).where(AuditEntry.action == "user.notifications")).one().actor_id
        == team["agent"].id
    )
    agent.post("/settings/profile/notifications", {"lead_emails": "on", "csrf_token": csrf_token(agent)}, status=303)
    _create(client_of(team["owner"]), name="Wanted", owner_id=team["agent"].id)
    assert [mail.subject for mail in send()] == ["New lead for you: Wanted"]


def test_notification_pages_need_permission_and_csrf(client_of, team, db, make_company, make_user):
    agent = client_of(team["agent"])
    agent.get("/settings/notifications", status=403)
    agent.post(
        "/settings/notifications", {"user_id": str(team["agent"].id), "csrf_token": csrf_token(agent)}, status=403
    )
    admin = client_of(team["admin"])
    admin.post("/settings/notifications", {"user_id": str(team["agent"].id)}, status=400)
    admin.post("/settings/profile/notifications", {}, status=400)
    # Users of another company cannot be chosen.
    stranger = make_user(make_company(name="Elsewhere"), "OWNER", email="x@elsewhere.example")
    admin.post("/settings/notifications", {"user_id": str(stranger.id), "csrf_token": csrf_token(admin)}, status=303)
    assert db.scalars(select(NotificationSettings)).all() == []
    assert "x@elsewhere.example" not in admin.get("/settings/notifications").text


def test_a_refused_recipient_fails_and_a_busy_server_is_retried(client_of, team, send, sink, db):
    sink.refuse_with = "550 5.1.1 no such user"
    try:
        _create(client_of(team["owner"]), name="Refused", owner_id=team["agent"].id)
        assert send() == []
    finally:
        sink.refuse_with = None
    db.expire_all()
    delivery = db.scalars(select(Delivery).where(Delivery.channel == "email")).one()
    assert (delivery.status, delivery.last_status_code) == ("failed", 550)
    sink.refuse_with = "451 4.3.0 try later"
    try:
        _create(client_of(team["owner"]), name="Later", owner_id=team["agent"].id)
        send()
    finally:
        sink.refuse_with = None
    db.expire_all()
    later = db.scalars(select(Delivery).where(Delivery.channel == "email").order_by(Delivery.id.desc())).first()
    assert (later.status, later.last_status_code) == ("pending", 451)


def test_no_smtp_url_keeps_mail_waiting(backend, client_of, team, db, sink):
    app = make_app(backend.ini(), environ={}, engine=backend.engine)
    _create(client_of(team["owner"]), name="Waiting", owner_id=team["agent"].id)
    worker_for(app.registry).run_until_idle()
    db.expire_all()
    delivery = db.scalars(select(Delivery).where(Delivery.channel == "email")).one()
    assert delivery.status == "pending"
    assert delivery.last_excerpt == "no SMTP_URL is set: e-mail waits until one is"


def test_console_back_end_prints_the_mail(backend, client_of, team, capsys):
    app = make_app(backend.ini(**{"orbitflow.smtp_url": "console://"}), environ={}, engine=backend.engine)
    _create(client_of(team["owner"]), name="Printed", owner_id=team["agent"].id)
    worker_for(app.registry).run_until_idle()
    out = capsys.readouterr().out
    assert "---- e-mail to Alex Agent <alex@example.com> ----" in out
    assert "Subject: New lead for you: Printed" in out


def test_owners_hear_when_a_webhook_is_disabled(team, send, db, encryption):
    from orbitflow.mail.notifications import notify_webhook_disabled
    from orbitflow.webhooks import services as webhook_services

    hook, _secret = webhook_services.create_webhook(
        db,
        company_id=team["company"].id,
        created_by_id=None,
        data={"url": "https://hooks.example.com/in", "events": ["lead.created"]},
        allow_private=False,
        encryptor=encryption,
    )
    hook.is_active = False
    hook.disabled_reason = "Disabled after 20 failed deliveries in a row (last answer: 404 nope)."
    notify_webhook_disabled(db, hook)
    db.commit()
    mails = send()
    assert sorted(mail.recipients[0] for mail in mails) == ["olga@example.com", "omar@example.com"]
    assert mails[0].subject == "Webhook disabled: https://hooks.example.com/in"
    assert "Disabled after 20 failed deliveries" in mails[0].text
    assert f"{BASE}/settings/webhooks/{hook.id}" in mails[0].text


def test_imported_leads_notify_like_any_other(client_of, team, send, db):
    import re

    admin = client_of(team["admin"])
    upload = admin.post(
        "/leads/import",
        {"csrf_token": csrf_token(admin)},
        upload_files=[
            ("file", "leads.csv", b"Name,Email\nImported One,one@example.org\nImported Two,two@example.org\n")
        ],
        status=303,
    )
    page = admin.get(upload.location)
    form = {"csrf_token": csrf_token(admin), "go": "import", "duplicates": "skip"}
    for key, options in re.findall(r'name="map_(\w+)">(.*?)</select>', page.text, re.S):
        chosen = re.search(r'<option value="(\d+)" selected', options)
        if chosen:
            form[f"map_{key}"] = chosen.group(1)
    stage = re.search(r'name="stage_id".*?<option value="(\d+)"', page.text, re.S)
    if stage:
        form.setdefault("stage_id", stage.group(1))
    admin.post(upload.location, form, status=303)
    mails = send()
    assert sorted((mail.recipients[0], mail.subject) for mail in mails) == [
        ("olga@example.com", "New lead: Imported One"),
        ("olga@example.com", "New lead: Imported Two"),
        ("omar@example.com", "New lead: Imported One"),
        ("omar@example.com", "New lead: Imported Two"),
    ]
