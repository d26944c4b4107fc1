"""Round robin stays fair when submissions arrive at once: a real waitress server, posts
from several threads, owners read back through another connection."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import waitress
from quizkit import form_body, post_at_once, public_path
from sqlalchemy import select

from orbitflow.app import make_app
from orbitflow.leads.models import Lead
from orbitflow.lifecycle import shut_down
from orbitflow_plugins.quiz import assignment
from orbitflow_plugins.quiz.models import QuizAssignTurn

pytestmark = pytest.mark.slow

SUBMISSIONS = 30
THREADS = 6


@pytest.fixture
def server(backend):
    settings = backend.ini(**{"quiz.ratelimit.submit": "100000/minute", "orbitflow.db_pool_size": "8"})
    app = make_app(settings, environ={}, engine=backend.engine)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=THREADS)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.effective_port
    server.close()
    shut_down(app.registry)


def test_30_concurrent_submissions_give_each_of_3_users_10_leads(server, db, company, quiz, make_user):
    users = [make_user(company, "AGENT", username=f"turn{n}") for n in range(3)]
    db.refresh(quiz)
    assignment.save_rule(db, quiz, "round_robin", [str(user.id) for user in users], {})
    db.commit()
    path = public_path(company, quiz)
    bodies = [form_body(quiz, f"rush{number}@example.com") for number in range(SUBMISSIONS)]
    statuses = post_at_once(server, path, bodies, THREADS)
    assert statuses.count(303) == SUBMISSIONS, sorted(set(statuses))
    db.expire_all()
    owners = Counter(db.scalars(select(Lead.owner_id).where(Lead.company_id == company.id)))
    assert owners == {user.id: SUBMISSIONS // 3 for user in users}
    assert db.get(QuizAssignTurn, quiz.id).turn == SUBMISSIONS
