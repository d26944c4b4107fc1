"""Many visitors at once: a real waitress server on MariaDB, posts from several threads."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
import waitress
from quizkit import TEST_SECRET, good_answers, make_quiz, public_path
from sqlalchemy import func, select

from orbitflow.app import make_app
from orbitflow.leads.models import Lead
from orbitflow.lifecycle import shut_down
from orbitflow_plugins.quiz.models import QuizSubmission
from orbitflow_plugins.quiz.tokens import issue_token

pytestmark = [pytest.mark.slow, pytest.mark.mariadb_only]

SUBMISSIONS = 200
UNIQUE_EMAILS = 160
REPEATED_TOKENS = 20
THREADS = 12


@pytest.fixture
def server(backend):
    settings = backend.ini(**{"quiz.ratelimit.submit": "100000/minute", "orbitflow.db_pool_size": "10"})
    app = make_app(settings, environ={}, engine=backend.engine)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.effective_port
    server.close()
    shut_down(app.registry)


def test_200_concurrent_submissions_give_200_submissions_and_one_lead_per_address(server, db, company, quiz):
    path = public_path(company, quiz)
    bodies = []
    for number in range(SUBMISSIONS):
        token = issue_token(TEST_SECRET, quiz.id, issued_at=int(time.time()) - 60)
        email = f"visitor{number % UNIQUE_EMAILS}@example.com"
        bodies.append(urllib.parse.urlencode([("token", token), *good_answers(quiz, email=email)]))
    # Some forms are posted twice at the same time (double clicks, retried requests).
    bodies += bodies[:REPEATED_TOKENS]

    local = threading.local()

    def post(body: str) -> int:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
        connection.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        response.read()
        return response.status

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(post, bodies))
    assert statuses.count(303) == len(bodies), sorted(set(statuses))
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(QuizSubmission)) == SUBMISSIONS
    assert db.scalar(select(func.count()).select_from(Lead)) == UNIQUE_EMAILS
    new_leads = db.scalar(select(func.count()).select_from(QuizSubmission).where(QuizSubmission.created_lead.is_(True)))
    assert new_leads == UNIQUE_EMAILS
    # Every submission points at its lead.
    orphans = db.scalar(select(func.count()).select_from(QuizSubmission).where(QuizSubmission.lead_id.is_(None)))
    assert orphans == 0


@pytest.fixture
def company(make_company):
    return make_company(name="Busy Co", plan="ENTERPRISE")


@pytest.fixture
def quiz(db, company):
    return make_quiz(db, company)
