"""Fixtures of the analytics tests."""

from __future__ import annotations

import pytest

from analyticskit import Kit


@pytest.fixture
def kit(db, wsgi_app):
    kit = Kit(db, wsgi_app)
    yield kit
    kit.flush()


@pytest.fixture
def company(make_company):
    return make_company(name="Berlin Leads", time_zone="Europe/Berlin")


@pytest.fixture
def owner(company, make_user):
    return make_user(company, "OWNER", username="olga", name="Olga Owner")
