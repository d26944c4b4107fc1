"""Helpers the tests share: acting as a browser would."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from http.cookies import SimpleCookie

import waitress
import webtest
from pyramid.request import Request
from pyramid.scripting import prepare

from orbitflow.accounts.models import User
from orbitflow.accounts.sessions import start_session
from orbitflow.db import unscoped

PASSWORD = "Correct-Horse-42"
# The browser the tests' sessions are started from (shown on the profile page's sessions).
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


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


def sign_in(testapp: webtest.TestApp, user: User) -> webtest.TestApp:
    """Sign ``testapp`` in as ``user`` with a new server-side session, started by the app's
    own function (``orbitflow.accounts.sessions``), without the form (so without an argon2
    check).
    tests/test_login.py and the other sign-in tests use the form through :func:`login`."""
    csrf_token(testapp)  # the visitor's CSRF cookie, from the login page, as before a sign-in
    router = testapp.app
    blank = Request.blank(
        "/", base_url="http://localhost", headers={"User-Agent": BROWSER}, environ={"REMOTE_ADDR": "10.0.0.2"}
    )
    with prepare(request=blank, registry=router.registry) as env:
        request = env["request"]
        request.tm.begin()
        try:
            # As the sign-in does: the user as the database has them now.
            with unscoped(request.dbsession) as session:
                current = session.get(User, user.id)
            headers = start_session(request, current)
            request.tm.commit()
        except BaseException:
            request.tm.abort()
            raise
    for name, value in headers:
        if name.lower() == "set-cookie":
            for morsel in SimpleCookie(value).values():
                testapp.set_cookie(morsel.key, morsel.value)
    return testapp


class LiveServer:
    """The app on a free port of 127.0.0.1, its AUTH_URL that address (the app builds
    every absolute URL from AUTH_URL)."""

    def __init__(self, make: Callable[[str], object]):
        apps: list = []
        self.server = waitress.create_server(
            lambda environ, start_response: apps[0](environ, start_response),
            host="127.0.0.1",
            port=0,
            threads=4,
            ident="OrbitFlow",
        )
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.app = make(self.url)
        apps.append(self.app)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    @staticmethod
    def thread_for(server) -> threading.Thread:
        """Run a waitress server made elsewhere in a thread of its own."""
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.server.close()
