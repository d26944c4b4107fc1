"""AUTH_SECRET rotation: with AUTH_SECRET_PREVIOUS set, cookies signed with the old secret
keep working and come back signed with the new one; without it they are refused."""

from __future__ import annotations

import pytest
import webtest

from orbitflow.app import make_app
from orbitflow.config import ConfigError, load_settings
from orbitflow.security import SESSION_COOKIE
from orbitflow.shared import shared
from orbitflow_plugins.quiz.tokens import issue_token, read_token
from support import login

OLD = "old-secret-0123456789-0123456789-abcdef"
NEW = "new-secret-9876543210-9876543210-zyxwvu"


@pytest.fixture(scope="module")
def apps(backend):
    """The app before the rotation, during it (PREVIOUS set) and after it (PREVIOUS dropped)."""
    before = make_app(backend.ini(**{"orbitflow.auth_secret": OLD}), environ={}, engine=backend.engine)
    during = make_app(
        backend.ini(**{"orbitflow.auth_secret": NEW}), environ={"AUTH_SECRET_PREVIOUS": OLD}, engine=backend.engine
    )
    after = make_app(backend.ini(**{"orbitflow.auth_secret": NEW}), environ={}, engine=backend.engine)
    return before, during, after


def _client(app) -> webtest.TestApp:
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.9"})


def _session_cookies(response) -> list[str]:
    return [v for n, v in response.headerlist if n == "Set-Cookie" and v.startswith(f"{SESSION_COOKIE}=")]


def _with_cookie(app, value: str) -> webtest.TestApp:
    client = _client(app)
    client.set_cookie(SESSION_COOKIE, value)
    return client


def test_a_session_of_the_old_secret_survives_the_rotation_and_is_re_signed(apps, team, db):
    before, during, after = apps
    browser = _client(before)
    login(browser, team["AGENT"])
    old_cookie = browser.cookies[SESSION_COOKIE]

    # The new secret alone does not know the cookie: the user would be signed out.
    _with_cookie(after, old_cookie).get("/api/v1/me", status=401)
    assert "/login" in _with_cookie(after, old_cookie).get("/dashboard", status=302).location

    # During the rotation the same cookie still signs the user in, and comes back re-signed.
    rotating = _with_cookie(during, old_cookie)
    response = rotating.get("/api/v1/me", status=200)
    assert response.json["username"] == "agent"
    (renewed,) = _session_cookies(response)
    assert "HttpOnly" in renewed and "Max-Age=0" not in renewed
    new_cookie = rotating.cookies[SESSION_COOKIE]
    assert new_cookie != old_cookie
    # A cookie signed with the new secret is not re-signed again.
    assert _session_cookies(rotating.get("/api/v1/me", status=200)) == []

    # Once AUTH_SECRET_PREVIOUS is dropped, the renewed cookie still works, the old one not.
    assert _with_cookie(after, new_cookie).get("/api/v1/me", status=200).json["username"] == "agent"
    _with_cookie(after, old_cookie).get("/api/v1/me", status=401)
    # The old app never accepts what the new secret signed.
    _with_cookie(before, new_cookie).get("/api/v1/me", status=401)


def test_a_tampered_cookie_is_refused_during_the_rotation(apps, team):
    before, during, _after = apps
    browser = _client(before)
    login(browser, team["AGENT"])
    cookie = browser.cookies[SESSION_COOKIE]
    forged = cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB")
    response = _with_cookie(during, forged).get("/api/v1/me", status=401)
    assert _session_cookies(response) == []


def test_quiz_form_tokens_of_the_old_secret_are_accepted_during_the_rotation(apps):
    _before, during, after = apps
    token = issue_token(OLD, 7)
    assert read_token(shared_settings(during).auth_secrets, token, 7) is not None
    assert read_token(shared_settings(after).auth_secrets, token, 7) is None
    assert read_token(shared_settings(during).auth_secrets, issue_token(NEW, 7), 7) is not None


def shared_settings(app):
    from orbitflow.config import Settings

    return shared(app.registry, Settings)


@pytest.mark.parametrize("value", ["short", "x" * 31])
def test_a_short_previous_secret_stops_start_up(value):
    with pytest.raises(ConfigError, match="AUTH_SECRET_PREVIOUS must be at least 32 characters long") as caught:
        load_settings(
            {"sqlalchemy.url": "sqlite://", "orbitflow.auth_secret": NEW}, environ={"AUTH_SECRET_PREVIOUS": value}
        )
    assert value not in str(caught.value)


def test_the_previous_secret_never_shows_in_the_settings():
    settings = load_settings(
        {"sqlalchemy.url": "sqlite://", "orbitflow.auth_secret": NEW}, environ={"AUTH_SECRET_PREVIOUS": OLD}
    )
    assert settings.auth_secrets == (NEW, OLD)
    assert OLD not in repr(settings)
