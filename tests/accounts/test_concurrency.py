"""Parallel requests on MariaDB: sign-in attempts all count towards the lockout, and the
user quota holds when several admins add users at the same moment."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import webtest
from sqlalchemy import func, select

from accounts.helpers import audit_actions, bearer
from orbitflow.accounts.apikeys import new_raw_key
from orbitflow.accounts.models import ApiKey, User
from orbitflow.ratelimit import rate_limiter
from orbitflow.security import hash_api_key
from support import csrf_token

pytestmark = pytest.mark.mariadb_only
THREADS = 8


def _in_parallel(calls):
    start = threading.Barrier(len(calls))

    def run(call):
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_parallel_wrong_passwords_all_count(wsgi_app, team, db):
    rate_limiter(wsgi_app.registry).reset()
    owner = team["OWNER"]
    clients = [webtest.TestApp(wsgi_app, extra_environ={"HTTP_HOST": "localhost"}) for _ in range(THREADS)]
    forms = [
        {
            "subscription_id": "acme",
            "username": owner.username,
            "password": "wrong-password-1",
            "csrf_token": csrf_token(c),
        }
        for c in clients
    ]
    statuses = _in_parallel(
        [
            lambda c=c, f=f: c.post("/login", f, expect_errors=True).status_int
            for c, f in zip(clients, forms, strict=True)
        ]
    )
    # Attempts are counted before the password is checked: only five get that far, the
    # three beyond the threshold are refused at once, and the fifth failure locks.
    assert statuses.count(429) >= 4 and set(statuses) <= {400, 429}
    actions = audit_actions(db, team.company.id)
    assert actions.count("auth.login_failed") == 5
    assert actions.count("auth.lockout") == 1
    # Refusals leave one entry per minute, however many there are.
    assert actions.count("auth.login_locked") == 1


def test_parallel_user_creation_respects_the_quota(wsgi_app, team, db):
    team.company.max_users = 7  # five taken: room for two more
    raw = new_raw_key()
    creator = team["OWNER"].id
    db.add(
        ApiKey(
            company_id=team.company.id,
            name="sync",
            role="OWNER",
            prefix=raw[:10],
            key_hash=hash_api_key(raw),
            created_by_id=creator,
        )
    )
    db.commit()
    clients = [webtest.TestApp(wsgi_app, extra_environ={"HTTP_HOST": "localhost"}) for _ in range(THREADS)]
    calls = [
        lambda c=c, n=n: (
            c.post_json(
                "/api/v1/users",
                {"username": f"new{n}", "password": "Launch-Pad-2031", "role": "AGENT"},
                headers=bearer(raw),
                expect_errors=True,
            ).status_int
        )
        for n, c in enumerate(clients)
    ]
    statuses = _in_parallel(calls)
    assert sorted(statuses) == [201, 201] + [409] * (THREADS - 2)
    db.rollback()
    active = db.scalar(select(func.count(User.id)).where(User.company_id == team.company.id, User.is_active))
    assert active == 7
    assert audit_actions(db, team.company.id, "user.").count("user.create") == 2


@pytest.mark.parametrize("kind", ["totp", "recovery"])
def test_one_code_sent_in_parallel_from_copies_of_a_second_step_signs_in_once(browser, team, db, wsgi_app, kind):
    """A pending second step copied to several browsers, each sending the same code at the
    same moment: the code is accepted once, one session is issued."""
    from accounts.test_two_factor import code_at, enrol, password_step
    from orbitflow.accounts.models import UserSession
    from orbitflow.accounts.signin_challenge import CHALLENGE_COOKIE

    agent = team["AGENT"]
    enrolled = enrol(browser(agent), db, agent)
    first = webtest.TestApp(wsgi_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.5"})
    password_step(first, agent)
    code = code_at(enrolled.secret) if kind == "totp" else enrolled.codes[0]
    clients = []
    for _ in range(4):
        copy = webtest.TestApp(wsgi_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.5"})
        copy.set_cookie(CHALLENGE_COOKIE, first.cookies[CHALLENGE_COOKIE])
        clients.append((copy, csrf_token(copy)))
    sessions_before = db.scalar(select(func.count(UserSession.id)).where(UserSession.user_id == agent.id))
    responses = _in_parallel(
        [
            lambda c=c, t=t: c.post("/login/two-factor", {"code": code, "csrf_token": t}, expect_errors=True)
            for c, t in clients
        ]
    )
    signed_in = [r for r in responses if r.status_int == 303 and r.location.endswith("/dashboard")]
    assert len(signed_in) == 1, [r.status for r in responses]
    # The others are refused as a used code, or by the sign-in limit that the copies share.
    assert all(r.status_int in {303, 400, 429} for r in responses), [r.status for r in responses]
    db.expire_all()
    assert db.scalar(select(func.count(UserSession.id)).where(UserSession.user_id == agent.id)) == sessions_before + 1
    assert audit_actions(db, team.company.id).count("auth.login") == 1
