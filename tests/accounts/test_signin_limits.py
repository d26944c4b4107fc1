"""Limits on sign-in attempts: per address, per subscription ID, and a lock per account and
address; unknown accounts answered exactly like real ones."""

from __future__ import annotations

import difflib
import re

import pytest
import webtest
from argon2 import extract_parameters

from accounts.helpers import audit_actions
from orbitflow.accounts import passwords
from orbitflow.app import make_app
from orbitflow.config import ConfigError
from support import PASSWORD, csrf_token

WRONG = "wrong-password-1"


def client(app, address: str) -> webtest.TestApp:
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": address})


def sign_in(browser: webtest.TestApp, subscription_id: str, username: str, password: str):
    return browser.post(
        "/login",
        {
            "subscription_id": subscription_id,
            "username": username,
            "password": password,
            "csrf_token": csrf_token(browser),
        },
        expect_errors=True,
    )


def alert(page) -> str:
    found = re.findall(r'role="alert">([^<]*)<', page.text)
    return found[0] if found else ""


@pytest.fixture
def app_with(backend, db):
    """An app of its own (fresh counters) with the given INI settings."""

    def make(**ini: str):
        return make_app(backend.ini(**ini), environ={}, engine=backend.engine)

    return make


def test_fast_failures_from_one_address_are_refused_before_any_password_is_checked(app_with, team, db):
    app = app_with(**{"orbitflow.signin_limit.address": "3/minute"})
    stranger = client(app, "203.0.113.9")
    owner = team["OWNER"]
    # Guessing across usernames, so no single account locks: the address limit stops it.
    for name in ("admin", "manager", "agent"):
        page = sign_in(stranger, "acme", name, WRONG)
        assert page.status_int == 400 and alert(page) == "Wrong subscription ID, username or password."
    refused = sign_in(stranger, "acme", owner.username, PASSWORD)
    # Refused before the password is looked at: the right one does not get in either.
    assert refused.status_int == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert alert(refused) == "Too many sign-in attempts. Try again in 1 minute."
    # A friendly page: the login form again, keeping what was typed (but not the password).
    form = refused.forms["login-form"]
    assert form["subscription_id"].value == "acme" and form["username"].value == owner.username
    assert form["password"].value == ""
    stranger.get("/dashboard", status=302)
    actions = audit_actions(db, team.company.id)
    assert actions == ["auth.login_failed"] * 3 + ["auth.login_throttled"]
    # The owner, elsewhere, is not affected.
    assert sign_in(client(app, "198.51.100.4"), "acme", owner.username, PASSWORD).status_int == 303


def test_a_flood_of_refused_attempts_leaves_one_audit_entry_a_minute(app_with, team, db):
    app = app_with(**{"orbitflow.signin_limit.address": "1/minute"})
    stranger = client(app, "203.0.113.9")
    sign_in(stranger, "acme", "nobody", WRONG)
    statuses = [sign_in(stranger, "acme", "owner", WRONG).status_int for _ in range(10)]
    assert statuses == [429] * 10
    assert audit_actions(db, team.company.id).count("auth.login_throttled") == 1


def test_failures_lock_the_account_for_that_address_only(testapp, another_client, team, db):
    owner = team["OWNER"]
    statuses = [sign_in(testapp, "acme", owner.username, WRONG).status_int for _ in range(5)]
    # The fifth failure locks: the page says how long to wait.
    assert statuses == [400] * 4 + [429]
    locked = sign_in(testapp, "acme", owner.username, PASSWORD)
    assert locked.status_int == 429
    assert alert(locked) == "Too many sign-in attempts. Try again in 15 minutes."
    assert 890 <= int(locked.headers["Retry-After"]) <= 900
    testapp.get("/dashboard", status=302)
    # The real user, from their own address, signs in as usual.
    own_browser = another_client()
    assert sign_in(own_browser, "acme", owner.username, PASSWORD).status_int == 303
    own_browser.get("/dashboard", status=200)
    actions = audit_actions(db, team.company.id)
    assert actions == ["auth.login_failed"] * 5 + ["auth.lockout", "auth.login_locked", "auth.login"]


def test_a_successful_sign_in_clears_the_failures_of_its_account(testapp, team):
    owner = team["OWNER"]
    for _ in range(4):
        assert sign_in(testapp, "acme", owner.username, WRONG).status_int == 400
    assert sign_in(testapp, "acme", owner.username, PASSWORD).status_int == 303
    testapp.post("/logout", {"csrf_token": csrf_token(testapp)}, status=303)
    statuses = [sign_in(testapp, "acme", owner.username, WRONG).status_int for _ in range(4)]
    assert statuses == [400] * 4


def test_attempts_per_subscription_id_are_limited_across_addresses(app_with, team, make_company, make_user):
    app = app_with(**{"orbitflow.signin_limit.subscription": "4/minute"})
    for number in range(4):
        page = sign_in(client(app, f"203.0.113.{number + 1}"), "acme", f"guess{number}", WRONG)
        assert page.status_int == 400
    refused = sign_in(client(app, "203.0.113.50"), "acme", team["OWNER"].username, PASSWORD)
    assert refused.status_int == 429 and refused.headers["Retry-After"].isdigit()
    # Another company is not affected.
    other = make_company(subscription_id="other")
    user = make_user(other, "OWNER", username="olga")
    assert sign_in(client(app, "203.0.113.50"), "other", user.username, PASSWORD).status_int == 303


def _comparable(page, typed: tuple[str, ...]) -> tuple:
    """What a stranger sees, apart from the per-response CSRF token, CSP nonce and request id."""
    text = page.text
    for value in typed:
        text = text.replace(value, "TYPED")
    text = re.sub(r'name="csrf_token" value="[^"]*"', "", text)
    text = re.sub(r'name="csrf-token" content="[^"]*"', "", text)
    text = re.sub(r'nonce="[^"]*"', "", text)
    headers = sorted(
        # The seconds to wait may differ by the second that passed between the attempts.
        (name, "seconds" if name == "Retry-After" else value)
        for name, value in page.headerlist
        if name.lower() not in {"set-cookie", "content-security-policy", "x-request-id"}
    )
    return page.status_int, text, headers


def test_unknown_and_known_accounts_answer_and_lock_alike(testapp, another_client, team, db):
    # Same lengths, so that nothing but the words could differ.
    cases = {
        "known account, wrong password": ("acme", team["OWNER"].username, testapp),
        "unknown username": ("acme", "nouse", another_client()),
        "unknown subscription ID": ("zzzz", "owner", another_client()),
    }
    seen = {}
    for label, (subscription_id, username, browser) in cases.items():
        pages = [sign_in(browser, subscription_id, username, WRONG) for _ in range(6)]
        seen[label] = [_comparable(page, (subscription_id, username)) for page in pages]
    known = seen.pop("known account, wrong password")
    assert [status for status, _, _ in known] == [400] * 4 + [429] * 2
    for label, answers in seen.items():
        for got, want in zip(answers, known, strict=True):
            assert got[0] == want[0] and got[2] == want[2], label
            assert got[1] == want[1], "\n".join(difflib.unified_diff(want[1].splitlines(), got[1].splitlines()))


def test_unknown_accounts_are_verified_against_a_hash_as_costly_as_real_ones():
    # Same algorithm and cost parameters: the failure of an unknown account takes as long.
    assert extract_parameters(passwords._current.dummy_hash) == extract_parameters(passwords.hash_password(PASSWORD))


def test_lockout_threshold_and_duration_come_from_settings(app_with, team):
    app = app_with(**{"orbitflow.lockout_threshold": "2", "orbitflow.lockout_minutes": "1"})
    browser = client(app, "10.0.0.1")
    assert sign_in(browser, "acme", "owner", WRONG).status_int == 400
    page = sign_in(browser, "acme", "owner", WRONG)
    assert page.status_int == 429 and "Try again in 1 minute." in page.text
    assert 50 <= int(page.headers["Retry-After"]) <= 60


@pytest.mark.parametrize("name", ["orbitflow.signin_limit.address", "orbitflow.signin_limit.subscription"])
def test_bad_limits_stop_start_up(backend, name):
    with pytest.raises(ConfigError, match=rf"{re.escape(name)} must look like 20/minute"):
        make_app(backend.ini(**{name: "lots"}), environ={}, engine=backend.engine)
