"""Server-side sessions: the signed cookie carries a random token, ``user_sessions`` the rest.

Every request with a session cookie costs one indexed read (the session joined with its
user and the user's company; the impersonator is read only while impersonating), and
``last_seen_at`` is written at most
once a minute. Ending a session (sign-out, "log out everywhere", a password change,
deactivation, ending it from the profile page) sets ``ended_at``: a copied cookie stops
working at once. The idle and absolute time-outs are checked on the server.

To sign a user in without the login form (tests, scripts)::

    from orbitflow.accounts.sessions import issue_session

    issued = issue_session(dbsession, settings, user)   # adds the row; commit it
    client.set_cookie(SESSION_COOKIE, issued.cookie_value)
    # or send issued.headers (Set-Cookie) on a response
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from pyramid.request import Request
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from webob.cookies import make_cookie
from zope.sqlalchemy import mark_changed

from orbitflow.accounts.models import User, UserSession
from orbitflow.config import Settings, get_settings
from orbitflow.db import unscoped
from orbitflow.models.meta import utcnow
from orbitflow.security import SESSION_COOKIE, SUPER_ADMIN
from orbitflow.signing import RotatingSerializer, serializer_for

# last_seen_at is written at most this often: it is what the idle time-out slides on.
LAST_SEEN_WRITE_SECONDS = 60
USER_AGENT_MAX = 300
# Where the request keeps what find_session loaded: the rows stay in the request's session
# (whose identity map holds them weakly), so the user and company cost no second query.
FOUND_KEY = "orbitflow.found_session"


@dataclass(frozen=True)
class IssuedSession:
    row: UserSession
    cookie_value: str  # the value of the ``orbitflow_session`` cookie
    headers: list[tuple[str, str]]  # Set-Cookie header that carries it


@dataclass(frozen=True)
class FoundSession:
    row: UserSession
    user: User
    impersonator: User | None


def hash_token(token: str) -> str:
    # 256-bit random tokens: a fast hash is enough, and only the hash is stored.
    return hashlib.sha256(token.encode()).hexdigest()


def _serializer(settings: Settings) -> RotatingSerializer:
    return serializer_for(settings, "orbitflow.session")


def _cookie_headers(settings: Settings, value: str | None) -> list[tuple[str, str]]:
    cookie = make_cookie(
        SESSION_COOKIE,
        value or "",
        max_age=0 if value is None else None,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="Lax",
    )
    return [("Set-Cookie", cookie)]


def issue_session(
    dbsession: Session,
    settings: Settings,
    user: User,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    impersonator_id: int | None = None,
    created_at: datetime | None = None,
    needs_two_factor: bool = False,
) -> IssuedSession:
    """Start a session of ``user`` (seen by the super admin ``impersonator_id`` when given)
    in ``dbsession``'s transaction, and return its row, cookie value and Set-Cookie header.

    ``created_at`` keeps the start of an earlier session, so that moving between sessions
    (impersonating) never restarts the absolute time-out. ``needs_two_factor`` limits the
    session to enrolling a second factor (the company requires one). The caller commits.
    """
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(
        company_id=user.company_id,
        token_hash=hash_token(token),
        user_id=user.id,
        impersonator_id=impersonator_id,
        created_at=created_at or now,
        last_seen_at=now,
        ip=ip,
        user_agent=(user_agent or "")[:USER_AGENT_MAX] or None,
        needs_two_factor=needs_two_factor,
    )
    with unscoped(dbsession):  # the row names its company; the session may be bound to another
        dbsession.add(row)
        dbsession.flush()
    value = _serializer(settings).dumps(token).decode("ascii")
    return IssuedSession(row, value, _cookie_headers(settings, value))


def start_session(
    request: Request,
    user: User,
    *,
    impersonator_id: int | None = None,
    created_at: datetime | None = None,
    needs_two_factor: bool = False,
) -> list[tuple[str, str]]:
    """Sign ``user`` in from this request (its address and browser); the Set-Cookie headers."""
    issued = issue_session(
        request.dbsession,
        get_settings(request.registry),
        user,
        ip=request.client_ip,
        user_agent=request.user_agent,
        impersonator_id=impersonator_id,
        created_at=created_at,
        needs_two_factor=needs_two_factor,
    )
    return issued.headers


def current_session(request: Request) -> UserSession | None:
    """The request's session row (loaded with the identity: no query)."""
    if request.identity is None:
        return None
    found = request.environ.get(FOUND_KEY)
    return found.row if found is not None else None


def signed_out_headers(request: Request) -> list[tuple[str, str]]:
    """Set-Cookie headers that remove the session cookie from the browser."""
    return _cookie_headers(get_settings(request.registry), None)


def _token(request: Request) -> tuple[str, bool] | None:
    """The cookie's token, and whether AUTH_SECRET_PREVIOUS signed it."""
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    try:
        token, old_secret = _serializer(get_settings(request.registry)).loads_with_age(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None  # tampered, signed with another secret, or not ours
    return (token, old_secret) if isinstance(token, str) and token else None


def _re_sign(token: str):
    """A response callback that gives the browser the same session signed with AUTH_SECRET."""

    def callback(request: Request, response) -> None:
        if any(
            name.lower() == "set-cookie" and value.startswith(f"{SESSION_COOKIE}=")
            for name, value in response.headerlist
        ):
            return  # the view signed the user in or out itself
        settings = get_settings(request.registry)
        for header in _cookie_headers(settings, _serializer(settings).dumps(token).decode("ascii")):
            response.headerlist.append(header)

    return callback


def find_session(request: Request) -> FoundSession | None:
    """The live session the request's cookie names, or None (one indexed read; a second
    one, of the super admin, while impersonating).

    Refused: ended, idle or older than the absolute limit, a user or impersonator no
    longer active (or no longer a super admin), a deactivated company. Slides the idle
    time-out by writing ``last_seen_at`` at most once a minute.
    """
    signed = _token(request)
    if signed is None:
        return None
    token, old_secret = signed
    session = request.dbsession
    with unscoped(session):
        found = session.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == hash_token(token), UserSession.ended_at.is_(None))
        ).first()
        if found is None:
            return None
        row, user = found
        # Only while impersonating: a second read, of the super admin.
        impersonator = session.get(User, row.impersonator_id) if row.impersonator_id is not None else None
    settings: Settings = get_settings(request.registry)
    now = utcnow()
    if not _within_limits(row, settings, now):
        return None
    if not user.is_active or (not user.company.is_active and not user.company.is_platform):
        return None
    if row.impersonator_id is not None and (
        impersonator is None or not impersonator.is_active or impersonator.role != SUPER_ADMIN
    ):
        return None
    if (now - row.last_seen_at).total_seconds() >= LAST_SEEN_WRITE_SECONDS:
        row.last_seen_at = now  # flushed with the request's transaction
    if old_secret:
        request.add_response_callback(_re_sign(token))
    request.environ[FOUND_KEY] = found = FoundSession(row, user, impersonator)
    return found


def _within_limits(row: UserSession, settings: Settings, now: datetime) -> bool:
    return now - row.last_seen_at <= timedelta(
        seconds=settings.session_idle_seconds
    ) and now - row.created_at <= timedelta(seconds=settings.session_absolute_seconds)


def end_session(dbsession: Session, row: UserSession, reason: str) -> None:
    if row.ended_at is None:
        row.ended_at = utcnow()
        row.end_reason = reason
        dbsession.flush()


def end_sessions_of(dbsession: Session, user: User, reason: str, *, keep_id: int | None = None) -> int:
    """End every live session of ``user``, and every one in which they impersonate someone
    (``keep_id`` excepted); returns how many ended."""
    statement = (
        update(UserSession)
        .where(
            or_(UserSession.user_id == user.id, UserSession.impersonator_id == user.id),
            UserSession.ended_at.is_(None),
        )
        .values(ended_at=utcnow(), end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if keep_id is not None:
        statement = statement.where(UserSession.id != keep_id)
    # Sessions of impersonation belong to the impersonated user's company: cross tenants.
    with unscoped(dbsession):
        result = dbsession.execute(statement)
    mark_changed(dbsession)
    return result.rowcount


def active_sessions(dbsession: Session, settings: Settings, user: User) -> list[UserSession]:
    """``user``'s live sessions (their own, and those in which they impersonate), most
    recently seen first."""
    now = utcnow()
    query = (
        select(UserSession)
        .where(
            or_(
                (UserSession.user_id == user.id) & UserSession.impersonator_id.is_(None),
                UserSession.impersonator_id == user.id,
            ),
            UserSession.ended_at.is_(None),
            UserSession.last_seen_at >= now - timedelta(seconds=settings.session_idle_seconds),
            UserSession.created_at >= now - timedelta(seconds=settings.session_absolute_seconds),
        )
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    with unscoped(dbsession):
        return list(dbsession.scalars(query))


def browser_summary(user_agent: str | None) -> str:
    """“Firefox 128 on Windows” from a User-Agent header (ua-parser's rules)."""
    if not user_agent:
        return "Unknown browser"
    return _browser_summary(user_agent)


@lru_cache(maxsize=512)
def _browser_summary(user_agent: str) -> str:
    from ua_parser import parse

    result = parse(user_agent)
    browser = result.user_agent
    system = result.os
    name = "Unknown browser"
    if browser is not None and browser.family != "Other":
        name = f"{browser.family} {browser.major}" if browser.major else browser.family
    if system is not None and system.family != "Other":
        return f"{name} on {system.family}"
    return name
