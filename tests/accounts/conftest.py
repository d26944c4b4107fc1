"""Fixtures of the accounts tests: a company with one user of every role, and browsers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import webtest

from accounts.helpers import session_cookie, session_payload
from orbitflow.accounts.models import User
from orbitflow.security import SESSION_COOKIE
from orbitflow.tenants.models import Company
from support import csrf_token

ROLE_NAMES = ("OWNER", "ADMIN", "MANAGER", "AGENT", "VIEWER")


@dataclass
class Team:
    company: Company
    users: dict[str, User]

    def __getitem__(self, role: str) -> User:
        return self.users[role]


@pytest.fixture
def team(make_company, make_user) -> Team:
    """Acme Rockets (subscription ID ``acme``) with users ``owner``, ``admin``, ...; one per role."""
    company = make_company(name="Acme Rockets", subscription_id="acme")
    return Team(company, {role: make_user(company, role, username=role.lower()) for role in ROLE_NAMES})


@pytest.fixture
def browser(another_client, backend):
    """A new browser signed in as ``user``.

    It holds the session cookie the login form would have given it (signed with the tests'
    secret), which spares an argon2 verification per browser; test_login.py signs in
    through the form.
    """

    def open_as(user: User) -> webtest.TestApp:
        client = another_client()
        csrf_token(client)  # the visitor's CSRF cookie, from the login page
        client.set_cookie(SESSION_COOKIE, session_cookie(backend, session_payload(user)))
        return client

    return open_as
