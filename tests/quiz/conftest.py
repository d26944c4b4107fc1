"""Fixtures of the quiz plugin's tests."""

from __future__ import annotations

import pytest
from quizkit import make_quiz

from orbitflow.shared import shared
from orbitflow_plugins.quiz.cache import DefinitionCache
from orbitflow_plugins.quiz.ratelimit import QuizRateLimiter
from orbitflow_plugins.quiz.recorder import FunnelRecorder


@pytest.fixture(autouse=True)
def fresh_quiz_state(wsgi_app, db):
    """Each test starts with empty rate-limit counters and caches (the app lives for the
    session), and its funnel events are written before its rows are deleted."""
    shared(wsgi_app.registry, QuizRateLimiter).reset()
    shared(wsgi_app.registry, DefinitionCache).clear()
    recorder = shared(wsgi_app.registry, FunnelRecorder)
    yield
    recorder.flush()
    recorder.forget_steps()


@pytest.fixture
def funnel(wsgi_app):
    """The app's funnel-event recorder; ``funnel.flush()`` before reading its rows."""
    return shared(wsgi_app.registry, FunnelRecorder)


@pytest.fixture
def company(make_company):
    return make_company(name="Acme Quizzes", plan="PROFESSIONAL")


@pytest.fixture
def quiz(db, company):
    return make_quiz(db, company)


@pytest.fixture
def manager(company, make_user):
    return make_user(company, "MANAGER", username="maya")
