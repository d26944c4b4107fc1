"""/api/v1/webhooks: the secret shown once, permissions, tenant isolation, CSRF, audit
and bad input; and the pages under Settings → Webhooks."""

from __future__ import annotations

import re

import pytest

from orbitflow.audit.models import AuditEntry
from orbitflow.webhooks.models import Webhook
from support import csrf_token
from webhooks.hookkit import Api, deliveries


def _audit_actions(db) -> list[str]:
    db.expire_all()
    return [
        entry.action for entry in db.query(AuditEntry).order_by(AuditEntry.id) if entry.action.startswith("webhook")
    ]


def test_create_shows_the_secret_once_and_lists_never_do(api, receiver, db):
    created = api.post(
        "/api/v1/webhooks", {"url": receiver.url, "events": ["lead.created"], "description": "Zapier"}, status=201
    ).json
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", created["secret"])
    assert (created["url"], created["events"], created["description"], created["is_active"]) == (
        receiver.url,
        ["lead.created"],
        "Zapier",
        True,
    )
    listed = api.get("/api/v1/webhooks").json
    assert listed["total"] == 1 and "secret" not in listed["items"][0]
    assert "secret" not in api.get(f"/api/v1/webhooks/{created['id']}").json
    assert created["secret"] not in api.client.get("/settings/webhooks").text
    assert created["secret"] not in api.client.get(f"/settings/webhooks/{created['id']}").text
    assert _audit_actions(db) == ["webhook.create"]
    entry = db.query(AuditEntry).filter(AuditEntry.action == "webhook.create").one()
    assert created["secret"] not in str(entry.changes)


def test_patch_and_delete_are_audited(api, make_webhook, db):
    hook = make_webhook()
    changed = api.patch(f"/api/v1/webhooks/{hook['id']}", {"events": ["lead.moved"], "description": "Moves"}).json
    assert (changed["events"], changed["description"]) == (["lead.moved"], "Moves")
    api.patch(f"/api/v1/webhooks/{hook['id']}", {"events": ["lead.moved"]})  # no change, no entry
    api.post(f"/api/v1/webhooks/{hook['id']}/secret")
    api.delete(f"/api/v1/webhooks/{hook['id']}")
    api.get(f"/api/v1/webhooks/{hook['id']}", status=404)
    assert _audit_actions(db) == ["webhook.create", "webhook.update", "webhook.rotate_secret", "webhook.delete"]
    update = db.query(AuditEntry).filter(AuditEntry.action == "webhook.update").one()
    assert update.changes["events"] == {"from": list(hook["events"]), "to": ["lead.moved"]}


BAD_BODIES = [
    ({"events": ["lead.created"]}, "url"),
    ({"url": "ftp://example.com/x", "events": ["lead.created"]}, "url"),
    ({"url": "https://user:pw@example.com/x", "events": ["lead.created"]}, "url"),
    ({"url": "https://example.com/" + "x" * 2001, "events": ["lead.created"]}, "url"),
    ({"url": 42, "events": ["lead.created"]}, "url"),
    ({"url": "https://example.com/x"}, "events"),
    ({"url": "https://example.com/x", "events": []}, "events"),
    ({"url": "https://example.com/x", "events": ["lead.exploded"]}, "events.0"),
    ({"url": "https://example.com/x", "events": [1, 2]}, "events.0"),
    ({"url": "https://example.com/x", "events": {"lead.created": True}}, "events"),
    ({"url": "https://example.com/x", "events": ["lead.created"], "description": ["x"]}, "description"),
    ({"url": "https://example.com/x", "events": ["lead.created"], "description": "d" * 201}, "description"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_bad_input_is_refused_with_the_field_named(api, db, body, field):
    error = api.post("/api/v1/webhooks", body, status=422).json["error"]
    assert field in error["fields"]
    assert db.query(Webhook).count() == 0


def test_bad_bodies_and_ids(api, make_webhook, db):
    hook = make_webhook()
    assert (
        api.client.post(
            "/api/v1/webhooks", "not json", headers={**api._headers(), "Content-Type": "application/json"}, status=400
        ).json["error"]["message"]
        == "The request body is not valid JSON."
    )
    api.post("/api/v1/webhooks", ["a"], status=400)
    api.patch(f"/api/v1/webhooks/{hook['id']}", {"is_active": "yes"}, status=422)
    error = api.patch(f"/api/v1/webhooks/{hook['id']}", {"url": "gopher://x"}, status=422).json["error"]
    assert (error["code"], error["message"], list(error["fields"])) == (
        "invalid",
        "Check the highlighted fields.",
        ["url"],
    )
    assert api.get(f"/api/v1/webhooks/{hook['id']}").json["url"] == hook["url"]
    api.get("/api/v1/webhooks/99999999999999999999999", status=404)
    api.get(f"/api/v1/webhooks/{hook['id']}/deliveries?page=0", status=400)
    api.get(f"/api/v1/webhooks/{hook['id']}/deliveries?per_page=1000", status=400)
    api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/99999999999999999999/resend", status=404)
    api.client.get("/settings/webhooks/99999999999999999999999", status=404)


def test_other_companies_webhooks_are_not_found(
    api, make_webhook, make_company, make_user, client_for, receiver, worker, db
):
    hook = make_webhook()
    api.post(f"/api/v1/webhooks/{hook['id']}/test", status=202)
    worker.run_until_idle()
    [delivery] = deliveries(db)
    stranger = Api(client_for(make_user(make_company(name="Rival"), "OWNER")))
    assert stranger.get("/api/v1/webhooks").json["items"] == []
    base = f"/api/v1/webhooks/{hook['id']}"
    stranger.get(base, status=404)
    stranger.patch(base, {"description": "mine"}, status=404)
    stranger.delete(base, status=404)
    stranger.post(f"{base}/test", status=404)
    stranger.post(f"{base}/secret", status=404)
    stranger.get(f"{base}/deliveries", status=404)
    stranger.post(f"{base}/deliveries/{delivery.id}/resend", status=404)
    page = f"/settings/webhooks/{hook['id']}"
    token = {"csrf_token": csrf_token(stranger.client)}
    stranger.client.get(page, status=404)
    for action in ("", "/test", "/secret", "/delete", f"/deliveries/{delivery.id}/resend"):
        stranger.client.post(page + action, token, status=404)
    # A webhook of the stranger's own cannot reach the first company's deliveries either.
    own = stranger.post("/api/v1/webhooks", {"url": receiver.url, "events": ["lead.created"]}, status=201).json
    stranger.post(f"/api/v1/webhooks/{own['id']}/deliveries/{delivery.id}/resend", status=404)
    # Leads of one company never reach another company's webhook.
    stranger.post("/api/v1/leads", {"name": "Rival lead"}, status=201)
    worker.run_until_idle()
    assert [r.json["type"] for r in receiver.received] == ["webhook.test", "lead.created"]
    assert api.get(base).json["description"] == ""
    assert db.query(Webhook).count() == 2


@pytest.mark.parametrize("role", ["MANAGER", "AGENT", "VIEWER"])
def test_only_owners_and_admins_manage_webhooks(role, make_user, company, client_for, make_webhook, api):
    hook = make_webhook()
    client = Api(client_for(make_user(company, role)))
    client.get("/api/v1/webhooks", status=403)
    client.post("/api/v1/webhooks", {"url": "https://example.com/x", "events": ["lead.created"]}, status=403)
    client.post(f"/api/v1/webhooks/{hook['id']}/test", status=403)
    client.client.get("/settings/webhooks", status=403)
    client.client.post("/settings/webhooks", {"csrf_token": csrf_token(client.client)}, status=403)
    assert "/settings/webhooks" not in client.client.get("/dashboard").text


def test_admins_manage_webhooks(make_user, company, client_for, receiver):
    admin = Api(client_for(make_user(company, "ADMIN")))
    admin.post("/api/v1/webhooks", {"url": receiver.url, "events": ["lead.created"]}, status=201)
    assert "/settings/webhooks" in admin.client.get("/dashboard").text


def test_changes_need_the_csrf_token(owner_client, make_webhook, db):
    hook = make_webhook()
    owner_client.post_json("/api/v1/webhooks", {"url": "https://example.com/x", "events": ["lead.created"]}, status=400)
    owner_client.delete(f"/api/v1/webhooks/{hook['id']}", status=400)
    owner_client.post(f"/settings/webhooks/{hook['id']}/delete", status=400)
    owner_client.post("/settings/webhooks", {"url": "https://example.com/y", "events": "lead.created"}, status=400)
    assert db.query(Webhook).count() == 1


def test_api_keys_manage_webhooks_without_csrf(owner_client, testapp, db):
    page = owner_client.post(
        "/settings/api-keys", {"name": "hooks", "role": "ADMIN", "csrf_token": csrf_token(owner_client)}, status=201
    )
    raw = re.search(r"<code data-raw-key>([^<]+)</code>", page.text).group(1)
    testapp.post_json(
        "/api/v1/webhooks",
        {"url": "https://example.com/x", "events": ["lead.created"]},
        headers={"Authorization": f"Bearer {raw}"},
        status=201,
    )


def test_pages_create_show_the_secret_once_test_and_resend(owner_client, receiver, worker, db):
    token = csrf_token(owner_client)
    bad = owner_client.post(
        "/settings/webhooks", {"url": "nope", "description": "kept", "csrf_token": token}, status=400
    )
    assert "Use an http:// or https:// address." in bad.text and 'value="kept"' in bad.text
    page = owner_client.post(
        "/settings/webhooks",
        {"url": receiver.url, "events": ["lead.created", "lead.moved"], "csrf_token": token},
        status=201,
    )
    secret = re.search(r"<code data-webhook-secret>(whsec_[^<]+)</code>", page.text).group(1)
    assert page.headers["Cache-Control"] == "no-store"
    receiver.secret = secret
    hook = db.query(Webhook).one()
    assert hook.events == ["lead.created", "lead.moved"]
    detail = owner_client.get(f"/settings/webhooks/{hook.id}")
    assert secret not in detail.text and "No deliveries yet" in detail.text
    owner_client.post(f"/settings/webhooks/{hook.id}/test", {"csrf_token": token}, status=303)
    worker.run_until_idle()
    detail = owner_client.get(f"/settings/webhooks/{hook.id}")
    assert 'data-status="delivered"' in detail.text and "<strong data-status-code>200</strong>" in detail.text
    [delivery] = deliveries(db)
    owner_client.post(
        f"/settings/webhooks/{hook.id}/deliveries/{delivery.id}/resend", {"csrf_token": token}, status=303
    )
    worker.run_until_idle()
    assert len(receiver.received) == 2 and all(r.verified for r in receiver.received)
    saved = owner_client.post(
        f"/settings/webhooks/{hook.id}",
        {"url": receiver.url, "events": ["lead.deleted"], "csrf_token": token},
        status=303,
    )
    assert saved.location.endswith(f"/settings/webhooks/{hook.id}")
    db.expire_all()
    hook = db.get(Webhook, hook.id)
    assert (hook.events, hook.is_active) == (["lead.deleted"], False), "unticked Active disables"
    rotated = owner_client.post(f"/settings/webhooks/{hook.id}/secret", {"csrf_token": token}, status=200)
    assert "New signing secret" in rotated.text
    owner_client.post(f"/settings/webhooks/{hook.id}/delete", {"csrf_token": token}, status=303)
    assert db.query(Webhook).count() == 0 and deliveries(db) == []
    assert _audit_actions(db) == [
        "webhook.create",
        "webhook.test",
        "webhook.resend",
        "webhook.update",
        "webhook.rotate_secret",
        "webhook.delete",
    ]
