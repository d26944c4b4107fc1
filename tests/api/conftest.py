"""Fixtures of the JSON API tests: a signed-in super admin and a customer company."""

from __future__ import annotations

import pytest


@pytest.fixture
def admin(platform, make_user):
    return make_user(platform, "SUPER_ADMIN", username="root")


@pytest.fixture
def admin_client(testapp, admin, login_as):
    return login_as(admin)


@pytest.fixture
def acme(make_company):
    return make_company(name="Acme Rockets", subscription_id="acme", plan="STARTER")


@pytest.fixture
def acme_owner(acme, make_user):
    return make_user(acme, "OWNER", username="olivia", email="olivia@acme.test")
