"""Webhook signing secrets are stored encrypted with ENCRYPTION_KEY (Fernet), as the
pixels' access tokens are: the columns become ``secret_encrypted`` and
``previous_secret_encrypted`` and every existing secret is encrypted. Downgrading
decrypts them again (it needs the key they were encrypted with).

Revision ID: 0017_webhook_secrets_encrypted
Revises: 0015_company_time_zone
Create Date: 2026-12-03 12:30:00
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from alembic import context, op
from orbitflow.crypto import Encryptor

revision = "0017_webhook_secrets_encrypted"
down_revision = "0015_company_time_zone"
branch_labels = None
depends_on = None

PLAIN = ("secret", "previous_secret")
ENCRYPTED = ("secret_encrypted", "previous_secret_encrypted")


def _encryptor() -> Encryptor:
    return Encryptor(context.config.attributes["orbitflow.settings"].encryption_keys)


def _convert(columns: tuple[str, str], change: Callable[[str], str]) -> None:
    """Rewrite both secret columns of every webhook with ``change``."""
    webhooks = sa.table("webhooks", sa.column("id"), *(sa.column(name) for name in columns))
    connection = op.get_bind()
    rows = connection.execute(sa.select(webhooks.c.id, *(webhooks.c[name] for name in columns))).all()
    for webhook_id, secret, previous in rows:
        connection.execute(
            webhooks.update()
            .where(webhooks.c.id == webhook_id)
            .values({columns[0]: change(secret), columns[1]: change(previous) if previous else None})
        )


def _rename(source: tuple[str, str], target: tuple[str, str], length: int, old_length: int) -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        for old, new, nullable in zip(source, target, (False, True), strict=True):
            batch_op.alter_column(
                old,
                new_column_name=new,
                type_=sa.String(length=length),
                existing_type=sa.String(length=old_length),
                existing_nullable=nullable,
            )


def upgrade() -> None:
    # Widen first: a Fernet token of a 50-character secret is 164 characters.
    _rename(PLAIN, ENCRYPTED, 255, 100)
    _convert(ENCRYPTED, _encryptor().encrypt)


def downgrade() -> None:
    # Raises orbitflow.crypto.Undecryptable (and changes nothing) when ENCRYPTION_KEY lacks the key.
    _convert(ENCRYPTED, _encryptor().decrypt)
    _rename(ENCRYPTED, PLAIN, 100, 255)
