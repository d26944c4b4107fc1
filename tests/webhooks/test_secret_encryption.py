"""Webhook signing secrets are stored encrypted with ENCRYPTION_KEY: the database never
holds one as it is, deliveries are signed after a key rotation, and the migration
encrypts the secrets already stored (and decrypts them on the way down)."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from orbitflow.app import make_app
from orbitflow.config import load_settings
from orbitflow.crypto import Encryptor
from orbitflow.db import make_engine
from orbitflow.deliveries import worker_for
from orbitflow.migrations import alembic_config, upgrade_to_heads
from orbitflow.webhooks import services
from orbitflow.webhooks.models import Webhook
from webhooks.hookkit import deliveries

REVISION = "0017_webhook_secrets_encrypted"
NEW_KEY = Fernet.generate_key().decode()


def _stored(db, webhook_id: int) -> Webhook:
    db.expire_all()
    return db.get(Webhook, webhook_id)


def test_the_secret_is_stored_encrypted_and_signs_deliveries(api, make_webhook, receiver, worker, db, encryption):
    created = make_webhook(events=["lead.created"])
    row = _stored(db, created["id"])
    assert created["secret"].startswith("whsec_")
    assert created["secret"] not in row.secret_encrypted
    assert encryption.decrypt(row.secret_encrypted) == created["secret"]
    assert "secret" not in api.get(f"/api/v1/webhooks/{created['id']}").json
    api.post("/api/v1/leads", {"name": "Signed Lead"}, status=201)
    worker.run_until_idle()
    [received] = receiver.received
    assert received.verified, received.error


def test_a_rotated_secret_is_stored_encrypted_too(api, make_webhook, db, encryption):
    created = make_webhook()
    rotated = api.post(f"/api/v1/webhooks/{created['id']}/secret", status=200).json
    row = _stored(db, created["id"])
    assert encryption.decrypt(row.secret_encrypted) == rotated["secret"]
    assert encryption.decrypt(row.previous_secret_encrypted) == created["secret"]
    assert rotated["secret"] not in row.secret_encrypted and created["secret"] not in row.previous_secret_encrypted


def _app_with_keys(backend, keys: str):
    return make_app(
        backend.ini(),
        environ={"ENCRYPTION_KEY": keys, "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true"},
        engine=backend.engine,
    )


def _webhook_with_a_test_delivery(db, company, receiver, encryption):
    """A webhook to ``receiver`` with its secret encrypted by the tests' key, and a test
    delivery waiting in the outbox."""
    hook, secret = services.create_webhook(
        db,
        company_id=company.id,
        created_by_id=None,
        data={"url": receiver.url, "events": ["lead.created"]},
        allow_private=True,
        encryptor=encryption,
    )
    services.send_test(db, hook)
    db.commit()
    return hook, secret


def test_after_a_key_rotation_deliveries_are_signed_and_the_secret_moves_to_the_new_key(
    backend, db, make_company, receiver, encryption
):
    company = make_company(name="Rotating Keys Co")
    hook, secret = _webhook_with_a_test_delivery(db, company, receiver, encryption)
    receiver.secret = secret
    # The new key first, the one the secret was encrypted with behind it.
    app = _app_with_keys(backend, f"{NEW_KEY},{encryption_key(backend)}")
    worker_for(app.registry).run_until_idle()
    [received] = receiver.received
    assert received.verified, received.error
    row = _stored(db, hook.id)
    assert Encryptor([NEW_KEY]).decrypt(row.secret_encrypted) == secret, "re-encrypted with the new first key"


def test_without_the_key_of_the_secret_nothing_is_sent_and_the_delivery_says_why(
    backend, db, make_company, receiver, encryption
):
    company = make_company(name="Lost Key Co")
    hook, _secret = _webhook_with_a_test_delivery(db, company, receiver, encryption)
    stored = _stored(db, hook.id).secret_encrypted
    worker_for(_app_with_keys(backend, NEW_KEY).registry).run_until_idle()
    assert receiver.received == []
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.attempts) == ("pending", 1), "kept for a retry once the key is back"
    assert "cannot be decrypted" in delivery.last_excerpt
    assert _stored(db, hook.id).secret_encrypted == stored


def encryption_key(backend) -> str:
    return load_settings(backend.ini(), environ={}).encryption_keys[0]


@pytest.fixture
def database_url(backend_name, request, tmp_path) -> str:
    if backend_name == "sqlite":
        return f"sqlite:///{tmp_path / 'orbitflow.sqlite'}"
    return request.getfixturevalue("new_mariadb_database")()


def test_the_migration_encrypts_stored_secrets_and_the_downgrade_decrypts_them(database_url):
    settings = load_settings({"sqlalchemy.url": database_url, "orbitflow.auth_secret": "m" * 40}, environ={})
    box = Encryptor(settings.encryption_keys)
    engine = make_engine(settings.database)
    try:
        cfg = alembic_config(settings, engine)
        before = ScriptDirectory.from_config(cfg).get_revision(REVISION).down_revision
        upgrade_to_heads(cfg)
        command.downgrade(cfg, before)
        # Rows as the schema was then: by SQL, not through today's models (later revisions
        # add columns of their own).
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO companies (name, subscription_id, plan, max_users, max_quizzes, is_active,"
                    " currency, require_two_factor, created_at, updated_at) VALUES ('Old Hooks', 'old-hooks',"
                    " 'FREE', 3, 1, 1, 'USD', 0, '2026-12-01 10:00:00', '2026-12-01 10:00:00')"
                )
            )
            company_id = connection.execute(
                text("SELECT id FROM companies WHERE subscription_id = 'old-hooks'")
            ).scalar_one()
        insert = text(
            "INSERT INTO webhooks (company_id, url, description, events, secret, previous_secret, is_active,"
            " consecutive_failures, created_at, updated_at) VALUES (:company, :url, '', '[\"lead.created\"]',"
            " :secret, :previous, 1, 0, '2026-12-01 10:00:00', '2026-12-01 10:00:00')"
        )
        plain = [("whsec_" + "a" * 44, "whsec_" + "b" * 44), ("whsec_" + "c" * 44, None)]
        with engine.begin() as connection:
            for number, (secret, previous) in enumerate(plain):
                connection.execute(
                    insert,
                    {
                        "company": company_id,
                        "url": f"https://hooks.example.com/{number}",
                        "secret": secret,
                        "previous": previous,
                    },
                )
        upgrade_to_heads(cfg)
        with engine.connect() as connection:
            rows = connection.execute(
                select(Webhook.secret_encrypted, Webhook.previous_secret_encrypted).order_by(Webhook.id)
            ).all()
        assert [(box.decrypt(secret), previous and box.decrypt(previous)) for secret, previous in rows] == plain
        assert all(secret not in stored for (secret, _), (stored, _) in zip(plain, rows, strict=True))
        command.downgrade(cfg, before)
        with engine.connect() as connection:
            back = connection.execute(text("SELECT secret, previous_secret FROM webhooks ORDER BY id")).all()
        assert [tuple(row) for row in back] == plain
        upgrade_to_heads(cfg)
    finally:
        engine.dispose()
