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
