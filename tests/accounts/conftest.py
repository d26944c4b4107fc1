"""Fixtures of the accounts tests: a company with one user of every role, and browsers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import webtest

from orbitflow.accounts.models import User
from orbitflow.tenants.models import Company
from support import sign_in

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
def browser(another_client):
    """A new browser signed in as ``user`` (see ``support.sign_in``)."""

    def open_as(user: User) -> webtest.TestApp:
        return sign_in(another_client(), user)

    return open_as
