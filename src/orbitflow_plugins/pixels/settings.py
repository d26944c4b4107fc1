"""Reading and changing a company's pixel settings: validation, encrypted tokens, and the
installation's defaults for companies that set none."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from orbitflow.companycache import CompanyReader
from orbitflow.crypto import Encryptor, Undecryptable
from orbitflow.models.meta import utcnow
from orbitflow.pixel_ids import (
    META_PIXEL_ID,
    META_PIXEL_ID_MAX,
    META_PIXEL_ID_RULE,
    TIKTOK_PIXEL_CODE,
    TIKTOK_PIXEL_CODE_MAX,
    TIKTOK_PIXEL_CODE_RULE,
)
from orbitflow.web.inputs import NO_ROW, parse_id
from orbitflow_plugins.pixels.models import (
    DEFAULT_META_WON_EVENT,
    DEFAULT_TIKTOK_WON_EVENT,
    PixelQuizOff,
    PixelSettings,
)
from orbitflow_plugins.quiz.models import Quiz

ACCESS_TOKEN = re.compile(r"^[A-Za-z0-9._\-|]+$")
MAX_TOKEN_LENGTH = 512
TEST_EVENT_CODE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")

FIELDS = (
    "facebook_pixel_id",
    "facebook_access_token",
    "tiktok_pixel_code",
    "tiktok_access_token",
    "test_event_code",
    "require_consent",
    "meta_won_event",
    "tiktok_won_event",
    "disabled_quiz_ids",
)
TOKEN_FIELDS = ("facebook_access_token", "tiktok_access_token")
# What GET answers besides the settings: a PUT may send them back (GET, edit, PUT) and
# they are ignored.
READ_ONLY_FIELDS = (
    "facebook_access_token_set",
    "facebook_access_token_unreadable",
    "tiktok_access_token_set",
    "tiktok_access_token_unreadable",
    "default_facebook_pixel_id",
    "default_tiktok_pixel_code",
)


class PixelSettingsError(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__("invalid pixel settings")
        self.fields = fields


@dataclass(frozen=True)
class Defaults:
    """``FACEBOOK_PIXEL_ID`` / ``TIKTOK_PIXEL_ID``: used by companies that set none."""

    facebook_pixel_id: str | None = None
    tiktok_pixel_code: str | None = None


@dataclass(frozen=True)
class ServerConfig:
    """What a company's server events go with: the pixel ids it set itself and its
    tokens, never the installation's defaults (those are for browser events). A token
    that is stored but cannot be decrypted is ``None`` with its ``*_unreadable`` flag."""

    company_id: int
    facebook_pixel_id: str | None
    facebook_access_token: str | None
    facebook_token_unreadable: bool
    tiktok_pixel_code: str | None
    tiktok_access_token: str | None
    tiktok_token_unreadable: bool
    test_event_code: str | None


def settings_row(session: Session, company_id: int) -> PixelSettings | None:
    return session.scalars(select(PixelSettings).where(PixelSettings.company_id == company_id)).first()


@dataclass(frozen=True)
class ServerEvents:
    """Whether a completed quiz sends server events, and to which platforms."""

    facebook: bool
    tiktok: bool
    require_consent: bool


def _load_server_events(session: Session, company_id: int) -> ServerEvents | None:
    row = settings_row(session, company_id)
    if row is None or not (row.meta_server_events or row.tiktok_server_events):
        return None
    return ServerEvents(row.meta_server_events, row.tiktok_server_events, row.require_consent)


# Read by every quiz submission: cached per process (see orbitflow.companycache for how fresh).
# None when the company has no pixel of its own with an access token (no server events).
server_events = CompanyReader("pixels.server_events", [PixelSettings.__table__], _load_server_events)


def disabled_quiz_ids(session: Session, company_id: int) -> list[int]:
    return sorted(session.scalars(select(PixelQuizOff.quiz_id).where(PixelQuizOff.company_id == company_id)).all())


def quiz_enabled(session: Session, company_id: int, quiz_id: int) -> bool:
    return (
        session.scalars(
            select(PixelQuizOff.id).where(PixelQuizOff.company_id == company_id, PixelQuizOff.quiz_id == quiz_id)
        ).first()
        is None
    )


def _decrypt(encryptor: Encryptor, value: str | None) -> str | None:
    """The token, or None when none is stored or it cannot be decrypted (see ``_unreadable``)."""
    if not value:
        return None
    try:
        return encryptor.decrypt(value)
    except Undecryptable:
        return None


def _unreadable(encryptor: Encryptor, value: str | None) -> bool:
    """A token is stored but encrypted with a key that ENCRYPTION_KEY no longer lists."""
    return bool(value) and _decrypt(encryptor, value) is None


def rotated_tokens(row: PixelSettings, encryptor: Encryptor) -> dict[str, str]:
    """The company's tokens that are not under ENCRYPTION_KEY's first key yet, encrypted
    with it (none for a token that is there already or cannot be decrypted at all: the
    delivery log and the settings page say so)."""
    moved = {}
    for name in TOKEN_FIELDS:
        value = getattr(row, name)
        if value and not encryptor.is_current(value):
            try:
                moved[name] = encryptor.rotate(value)
            except Undecryptable:
                continue
    return moved


def reencrypt_tokens(session: Session, row: PixelSettings, encryptor: Encryptor) -> None:
    """Move the company's tokens to ENCRYPTION_KEY's first key, each replacing only the
    ciphertext ``row`` holds: the row may have been read without a lock, and a token saved
    or removed since then must win, not be undone. Committed here (after one use the old
    key can go); ``row`` is read again afterwards."""
    moved = rotated_tokens(row, encryptor)
    if not moved:
        return
    table = PixelSettings.__table__
    for name, new in moved.items():
        session.execute(
            update(table)
            .where(table.c.company_id == row.company_id, table.c[name] == getattr(row, name))
            .values({name: new})
        )
    session.commit()
    session.refresh(row)


def server_config(session: Session, company_id: int, encryptor: Encryptor) -> ServerConfig:
    """The company's server-event settings, its tokens moved to ENCRYPTION_KEY's first
    key on the way."""
    row = settings_row(session, company_id)
    if row is None:
        return ServerConfig(company_id, None, None, False, None, None, False, None)
    reencrypt_tokens(session, row, encryptor)
    return ServerConfig(
        company_id,
        row.facebook_pixel_id,
        _decrypt(encryptor, row.facebook_access_token),
        _unreadable(encryptor, row.facebook_access_token),
        row.tiktok_pixel_code,
        _decrypt(encryptor, row.tiktok_access_token),
        _unreadable(encryptor, row.tiktok_access_token),
        row.test_event_code,
    )


def usable_server_events(row: PixelSettings | None, encryptor: Encryptor) -> ServerEvents | None:
    """The platforms a won lead can be reported to now: the company's own pixel with a
    token that can be decrypted (one whose key is gone counts as not set, so the win waits
    for the token to be entered again); None for neither."""
    if row is None:
        return None
    facebook = row.meta_server_events and not _unreadable(encryptor, row.facebook_access_token)
    tiktok = row.tiktok_server_events and not _unreadable(encryptor, row.tiktok_access_token)
    if not (facebook or tiktok):
        return None
    return ServerEvents(facebook, tiktok, row.require_consent)


def public_json(session: Session, company_id: int, defaults: Defaults, encryptor: Encryptor) -> dict[str, Any]:
    """The API's representation: the tokens only as booleans. ``*_set`` is true for a
    token that can be used; ``*_unreadable`` for one stored with a key that
    ENCRYPTION_KEY no longer lists (enter it again)."""
    row = settings_row(session, company_id)
    meta_token = row.facebook_access_token if row else None
    tiktok_token = row.tiktok_access_token if row else None
    return {
        "facebook_pixel_id": row.facebook_pixel_id if row else None,
        "facebook_access_token_set": _decrypt(encryptor, meta_token) is not None,
        "facebook_access_token_unreadable": _unreadable(encryptor, meta_token),
        "tiktok_pixel_code": row.tiktok_pixel_code if row else None,
        "tiktok_access_token_set": _decrypt(encryptor, tiktok_token) is not None,
        "tiktok_access_token_unreadable": _unreadable(encryptor, tiktok_token),
        "test_event_code": row.test_event_code if row else None,
        "require_consent": row.require_consent if row else True,
        "meta_won_event": row.meta_won_event if row else DEFAULT_META_WON_EVENT,
        "tiktok_won_event": row.tiktok_won_event if row else DEFAULT_TIKTOK_WON_EVENT,
        "disabled_quiz_ids": disabled_quiz_ids(session, company_id),
        "default_facebook_pixel_id": defaults.facebook_pixel_id,
        "default_tiktok_pixel_code": defaults.tiktok_pixel_code,
    }


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None


def _check(data: dict[str, Any], session: Session, company_id: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The given fields, cleaned, and a message per bad one."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    unknown = sorted(set(data) - set(FIELDS) - set(READ_ONLY_FIELDS))
    for name in unknown:
        errors[name] = "This field is not a pixel setting."

    def text_field(name: str, pattern: re.Pattern, message: str, limit: int) -> None:
        if name not in data:
            return
        raw = data[name]
        if raw is not None and not isinstance(raw, str):
            errors[name] = "Send text or null."
            return
        value = _optional_text(raw)
        if value is not None and (len(value) > limit or not pattern.match(value)):
            errors[name] = message
            return
        values[name] = value

    text_field("facebook_pixel_id", META_PIXEL_ID, f"A Meta pixel id is {META_PIXEL_ID_RULE}.", META_PIXEL_ID_MAX)
    text_field(
        "tiktok_pixel_code",
        TIKTOK_PIXEL_CODE,
        f"A TikTok pixel code is {TIKTOK_PIXEL_CODE_RULE}.",
        TIKTOK_PIXEL_CODE_MAX,
    )
    text_field("test_event_code", TEST_EVENT_CODE, "A test event code is up to 40 letters, digits, '-' or '_'.", 40)
    for name in TOKEN_FIELDS:
        text_field(
            name,
            ACCESS_TOKEN,
            f"An access token is up to {MAX_TOKEN_LENGTH} characters without spaces, as the platform shows it.",
            MAX_TOKEN_LENGTH,
        )
    for name in ("meta_won_event", "tiktok_won_event"):
        if name in data:
            raw = data[name]
            value = _optional_text(raw) if isinstance(raw, str) else None
            if value is None or not EVENT_NAME.match(value):
                errors[name] = "An event name starts with a letter: up to 40 letters, digits or '_'."
            else:
                values[name] = value
    if "require_consent" in data:
        if not isinstance(data["require_consent"], bool):
            errors["require_consent"] = "Send true or false."
        else:
            values["require_consent"] = data["require_consent"]
    if "disabled_quiz_ids" in data:
        raw = data["disabled_quiz_ids"]
        if not isinstance(raw, list) or not all(isinstance(item, int) and not isinstance(item, bool) for item in raw):
            errors["disabled_quiz_ids"] = "Send a list of quiz ids."
        else:
            # An id beyond the column's range names no quiz (and the database could not compare it).
            wanted = {item if parse_id(item) == item else NO_ROW for item in raw}
            known = (
                set(session.scalars(select(Quiz.id).where(Quiz.company_id == company_id, Quiz.id.in_(wanted))).all())
                if wanted
                else set()
            )
            if wanted - known:
                errors["disabled_quiz_ids"] = "Choose quizzes of this company."
            else:
                values["disabled_quiz_ids"] = sorted(wanted)
    row = settings_row(session, company_id)
    for token, pixel, message in (
        ("facebook_access_token", "facebook_pixel_id", "Enter the Meta pixel id this access token belongs to."),
        ("tiktok_access_token", "tiktok_pixel_code", "Enter the TikTok pixel code this access token belongs to."),
    ):
        # As it would be after this change: server events go only to the company's own pixel.
        # Checked only when this change sets a token or changes the pixel: a token stored
        # before the pixel was required stays (unused, the page says so) through other saves.
        stored_pixel = getattr(row, pixel) if row is not None else None
        if not (values.get(token) or (pixel in values and values[pixel] != stored_pixel)):
            continue
        has_token = values[token] if token in values else (row is not None and getattr(row, token))
        has_pixel = values.get(pixel, stored_pixel)
        if has_token and not has_pixel and pixel not in errors and token not in errors:
            errors[pixel] = message
    return values, errors


def update_settings(session: Session, company_id: int, data: dict[str, Any], encryptor: Encryptor) -> dict[str, Any]:
    """Apply the fields present in ``data``; returns the audit diff, in which a token
    appears only as "set" / "removed", never its value. Raises PixelSettingsError."""
    values, errors = _check(data, session, company_id)
    if errors:
        raise PixelSettingsError(errors)
    row = settings_row(session, company_id)
    if row is None:
        row = PixelSettings(
            company_id=company_id,
            require_consent=True,
            meta_won_event=DEFAULT_META_WON_EVENT,
            tiktok_won_event=DEFAULT_TIKTOK_WON_EVENT,
            consecutive_failures=0,
        )
        session.add(row)
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if name == "disabled_quiz_ids":
            before = disabled_quiz_ids(session, company_id)
            if before != value:
                session.execute(delete(PixelQuizOff).where(PixelQuizOff.company_id == company_id))
                mark_changed(session)
                for quiz_id in value:
                    session.add(PixelQuizOff(company_id=company_id, quiz_id=quiz_id))
                changes[name] = {"from": before, "to": value}
        elif name in TOKEN_FIELDS:
            stored = getattr(row, name)
            # Compared with what is stored: a token that cannot be decrypted any more is
            # still there to remove.
            if not stored and value is None:
                continue
            if stored and value is not None and _decrypt(encryptor, stored) == value:
                continue
            setattr(row, name, encryptor.encrypt(value) if value else None)
            changes[name] = {"from": "set" if stored else None, "to": "set" if value else "removed"}
            if value:
                # A new token: give its deliveries a fresh count.
                row.consecutive_failures = 0
        elif getattr(row, name) != value:
            changes[name] = {"from": getattr(row, name), "to": value}
            setattr(row, name, value)
    # A save uses the tokens too: those left alone move to ENCRYPTION_KEY's first key.
    for name, value in rotated_tokens(row, encryptor).items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.flush()
    return changes
