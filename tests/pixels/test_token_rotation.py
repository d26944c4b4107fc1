"""Rotating ENCRYPTION_KEY: a company's pixel tokens move to the new first key when they
are used, so the old key can go after that; a token whose key is gone is reported as
unreadable on the page and in the API, and its server events fail saying why."""

from __future__ import annotations

import pytest
import webtest
from cryptography.fernet import Fernet
from pixelkit import (
    META_TOKEN,
    TIKTOK_TOKEN,
    answer_as_ad_visitor,
    configure,
    pixel_deliveries,
)
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from orbitflow.audit.models import AuditEntry
from orbitflow.config import load_settings
from orbitflow.crypto import Encryptor, encryptor
from orbitflow.db import unscoped
from orbitflow.deliveries import worker_for
from orbitflow.shared import shared
from orbitflow_plugins.pixels.models import PixelSettings
from orbitflow_plugins.pixels.settings import reencrypt_tokens, settings_row
from quiz.quizkit import make_quiz
from support import login
from webhooks.hookkit import Api

NEW_KEY = Fernet.generate_key().decode()


def old_key(backend) -> str:
    # pixels_app has no ENCRYPTION_KEY: its key is derived from AUTH_SECRET.
    return load_settings(backend.ini(), environ={}).encryption_keys[0]


def stored(db, company) -> PixelSettings:
    db.expire_all()
    return db.scalars(select(PixelSettings).where(PixelSettings.company_id == company.id)).one()


def signed_in(app, user) -> webtest.TestApp:
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.1"})
    login(client, user)
    return client


def test_tokens_move_to_the_new_key_at_their_next_use_and_the_old_key_can_go(
    api, db, company, owner, visitor, meta, tiktok, backend, app_with_keys
):
    configure(api)
    quiz = make_quiz(db, company)
    answer_as_ad_visitor(visitor, company, quiz, email="first@example.com")
    # The new key first, the old one behind it: the worker sends the queued events.
    rotated = app_with_keys(f"{NEW_KEY},{old_key(backend)}")
    worker_for(rotated.registry).run_until_idle()
    assert [r.json["access_token"] for r in meta.received] == [META_TOKEN]
    assert [r.headers["access-token"] for r in tiktok.received] == [TIKTOK_TOKEN]
    row = stored(db, company)
    new_only = Encryptor([NEW_KEY])
    assert new_only.decrypt(row.facebook_access_token) == META_TOKEN
    assert new_only.decrypt(row.tiktok_access_token) == TIKTOK_TOKEN

    # The old key removed: everything still works.
    meta.reset()
    tiktok.reset()
    after = app_with_keys(NEW_KEY)
    client = signed_in(after, owner)
    body = client.get("/api/v1/pixels").json
    assert body["facebook_access_token_set"] is True and body["facebook_access_token_unreadable"] is False
    answer_as_ad_visitor(webtest.TestApp(after, extra_environ=visitor.extra_environ), company, quiz, email="b@x.io")
    worker_for(after.registry).run_until_idle()
    assert [r.json["access_token"] for r in meta.received] == [META_TOKEN]
    assert {row.status for row in pixel_deliveries(db)} == {"delivered"}


def test_a_token_whose_key_is_gone_says_so_and_its_events_fail_with_the_reason(
    api, db, company, owner, visitor, meta, tiktok, app_with_keys
):
    configure(api)
    quiz = make_quiz(db, company)
    before = stored(db, company).facebook_access_token
    # ENCRYPTION_KEY replaced without keeping the key the tokens were encrypted with.
    lost = app_with_keys(NEW_KEY)
    client = signed_in(lost, owner)
    body = client.get("/api/v1/pixels").json
    assert body["facebook_access_token_set"] is False and body["facebook_access_token_unreadable"] is True
    assert body["tiktok_access_token_set"] is False and body["tiktok_access_token_unreadable"] is True
    page = client.get("/settings/pixels")
    assert page.text.count("data-token-unreadable") == 2
    assert "The stored Meta token can no longer be read" in page.text
    assert "Remove the stored Meta token" in page.text

    answer_as_ad_visitor(webtest.TestApp(lost, extra_environ=visitor.extra_environ), company, quiz)
    worker_for(lost.registry).run_until_idle()
    assert meta.received == [] and tiktok.received == []
    rows = pixel_deliveries(db)
    assert {(row.channel, row.status) for row in rows} == {("pixels.meta", "failed"), ("pixels.tiktok", "failed")}
    for row in rows:
        assert "access token cannot be decrypted" in row.last_excerpt
        assert "no Meta pixel id or access token is set" not in row.last_excerpt
    log = client.get("/api/v1/pixels/deliveries").json["items"]
    assert all("ENCRYPTION_KEY" in item["last_excerpt"] for item in log)
    # Nothing was overwritten: putting the old key back would make it readable again.
    assert stored(db, company).facebook_access_token == before

    # Entering the token again stores it with the new key.
    body = client.put_json("/api/v1/pixels", {"facebook_access_token": META_TOKEN}, headers=Api(client)._headers()).json
    assert body["facebook_access_token_set"] is True and body["facebook_access_token_unreadable"] is False
    assert Encryptor([NEW_KEY]).decrypt(stored(db, company).facebook_access_token) == META_TOKEN


def audit_changes(db) -> list[dict]:
    db.expire_all()
    return [
        entry.changes
        for entry in db.scalars(select(AuditEntry).where(AuditEntry.action == "pixels.update").order_by(AuditEntry.id))
    ]


def test_a_token_that_can_no_longer_be_read_can_be_removed(api, db, company, owner, app_with_keys):
    configure(api)
    lost = signed_in(app_with_keys(NEW_KEY), owner)
    # Through the API...
    body = lost.put_json("/api/v1/pixels", {"facebook_access_token": None}, headers=Api(lost)._headers()).json
    assert body["facebook_access_token_unreadable"] is False and body["facebook_access_token_set"] is False
    assert stored(db, company).facebook_access_token is None
    assert audit_changes(db)[-1] == {"facebook_access_token": {"from": "set", "to": "removed"}}
    # ...and with the page's checkbox.
    form = lost.get("/settings/pixels").forms["pixels-form"]
    form["remove_tiktok_access_token"] = True
    form.submit(status=303)
    assert stored(db, company).tiktok_access_token is None
    assert audit_changes(db)[-1] == {"tiktok_access_token": {"from": "set", "to": "removed"}}
    body = lost.get("/api/v1/pixels").json
    assert body["tiktok_access_token_unreadable"] is False and body["tiktok_access_token_set"] is False
    assert "data-token-unreadable" not in lost.get("/settings/pixels").text


@pytest.mark.parametrize("change", [None, "EAAB-a-new-meta-token"])
def test_a_token_changed_while_the_worker_moves_it_to_the_new_key_stays_changed(
    api, db, company, backend, app_with_keys, change
):
    configure(api)
    rotated = app_with_keys(f"{NEW_KEY},{old_key(backend)}")
    # The worker reads the settings (no lock)...
    with shared(rotated.registry, sessionmaker)() as session, unscoped(session):
        row = settings_row(session, company.id)
        # ...the owner removes the token or enters another meanwhile...
        api.put("/api/v1/pixels", {"facebook_access_token": change})
        # ...then the worker moves what it read to the new key.
        reencrypt_tokens(session, row, encryptor(rotated.registry))
    row = stored(db, company)
    if change is None:
        assert row.facebook_access_token is None
    else:
        assert Encryptor([old_key(backend)]).decrypt(row.facebook_access_token) == change
    # The token nobody touched did move.
    assert Encryptor([NEW_KEY]).decrypt(row.tiktok_access_token) == TIKTOK_TOKEN
