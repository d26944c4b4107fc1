"""Fixtures of the quiz plugin's tests."""

from __future__ import annotations

import pytest
from quizkit import make_quiz


@pytest.fixture(autouse=True)
def fresh_rate_limits(wsgi_app):
    """Each test starts with empty rate-limit counters (the app lives for the session)."""
    wsgi_app.registry["quiz.ratelimiter"].reset()
    wsgi_app.registry["quiz.definitions"].clear()
    yield


@pytest.fixture
def company(make_company):
    return make_company(name="Acme Quizzes", plan="PROFESSIONAL")


@pytest.fixture
def quiz(db, company):
    return make_quiz(db, company)


@pytest.fixture
def manager(company, make_user):
    return make_user(company, "MANAGER", username="maya")
