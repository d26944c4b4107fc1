"""Helpers the tests share: acting as a browser would."""

from __future__ import annotations

import re

import webtest

from orbitflow.accounts.models import User

PASSWORD = "Correct-Horse-42"


def csrf_token(testapp: webtest.TestApp) -> str:
    """The CSRF token the browser would send (from the page's meta tag)."""
    page = testapp.get("/login") if "orbitflow_csrf" not in testapp.cookies else None
    if page is not None:
        match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert match
        return match.group(1)
    return testapp.cookies["orbitflow_csrf"]


def login(testapp: webtest.TestApp, user: User, password: str = PASSWORD, status: int | str = 303):
    token = csrf_token(testapp)
    return testapp.post(
        "/login",
        {
            "subscription_id": user.company.subscription_id,
            "username": user.username,
            "password": password,
            "csrf_token": token,
        },
        status=status,
    )
