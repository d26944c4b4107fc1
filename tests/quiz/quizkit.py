"""Helpers for the quiz tests: building quizzes and answering them as a visitor would."""

from __future__ import annotations

import http.client
import re
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import webtest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orbitflow.tenants.models import Company
from orbitflow_plugins.quiz import services
from orbitflow_plugins.quiz.models import Quiz
from orbitflow_plugins.quiz.tokens import issue_token, read_token

TEST_SECRET = "test-secret-0123456789-0123456789-abcdef"

FULL_QUIZ: dict[str, Any] = {
    "title": "Find your plan",
    "slug": "find-your-plan",
    "intro": "Answer five questions.",
    "brand_color": "#0ea5e9",
    "questions": [
        {
            "kind": "single",
            "text": "Team size?",
            "required": True,
            "options": [{"label": "Solo", "score": 1}, {"label": "Small", "score": 5}, {"label": "Large", "score": 10}],
        },
        {
            "kind": "multiple",
            "text": "Channels?",
            "required": True,
            "options": [
                {"label": "Facebook", "score": 2},
                {"label": "TikTok", "score": 3},
                {"label": "Email", "score": 1},
            ],
        },
        {"kind": "text", "text": "Your website?", "required": False},
        {"kind": "number", "text": "Leads per month?", "required": True, "min_value": "0", "max_value": "1000"},
        {"kind": "rating", "text": "Happy with your CRM?", "required": True, "max_value": "5", "scored": True},
    ],
    "outcomes": [
        {"title": "Starter", "min_score": None, "max_score": 9},
        {"title": "Growth", "min_score": 10, "max_score": None},
    ],
}


def make_quiz(db: Session, company: Company, spec: dict[str, Any] | None = None, *, publish: bool = True) -> Quiz:
    spec = dict(spec or FULL_QUIZ)
    if publish and not company.privacy_policy_url:
        company.privacy_policy_url = "https://example.com/privacy"
    settings = {k: v for k, v in spec.items() if k not in ("questions", "outcomes")}
    quiz = services.create_quiz(db, company, settings, actor_id=None)
    services.replace_definition(db, company, quiz, spec.get("questions", []), spec.get("outcomes", []))
    if publish:
        services.publish(db, company, quiz)
    db.commit()
    return db.scalars(select(Quiz).where(Quiz.id == quiz.id)).one()


def public_path(company: Company, quiz: Quiz) -> str:
    return f"/q/{company.subscription_id}/{quiz.slug}"


def backdate(token: str, seconds: int = 30) -> str:
    """The same form token as if the page had been open ``seconds`` longer."""
    quiz_id, issued, nonce, _ = token.split(".")
    return issue_token(TEST_SECRET, int(quiz_id), issued_at=int(issued) - seconds, nonce=nonce)


def token_of(page: webtest.TestResponse) -> str:
    match = re.search(r'name="token" value="([^"]+)"', page.text)
    assert match, "the page has no form token"
    return match.group(1)


def nonce_of(token: str) -> str:
    parsed = read_token(TEST_SECRET, token, int(token.split(".")[0]))
    assert parsed is not None
    return parsed.nonce


def good_answers(quiz: Quiz, **contact: str) -> list[tuple[str, str]]:
    """Valid answers to FULL_QUIZ: Small (5) + TikTok (3) + rating 4 (scored) = 12."""
    by_text = {q.text: q for q in quiz.questions}
    fields: list[tuple[str, str]] = []
    single = by_text["Team size?"]
    fields.append((single.field_name, str(next(o.id for o in single.options if o.label == "Small"))))
    multiple = by_text["Channels?"]
    fields.append((multiple.field_name, str(next(o.id for o in multiple.options if o.label == "TikTok"))))
    fields.append((by_text["Your website?"].field_name, "example.org"))
    fields.append((by_text["Leads per month?"].field_name, "120"))
    fields.append((by_text["Happy with your CRM?"].field_name, "4"))
    defaults = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "", "consent": "1"}
    defaults.update(contact)
    fields.extend((key, value) for key, value in defaults.items() if value is not None)
    return fields


def submit(
    client: webtest.TestApp,
    path: str,
    fields: list[tuple[str, str]],
    *,
    token: str | None = None,
    age: int = 30,
    status: int | str = "*",
    extra_environ: dict[str, str] | None = None,
    query: str = "",
) -> webtest.TestResponse:
    """Open the quiz page like a visitor, then post ``fields`` with its token."""
    if token is None:
        page = client.get(path + query, extra_environ=extra_environ)
        token = token_of(page)
        hidden = re.findall(r'<input type="hidden" name="((?:utm_|referrer|fbclid)[^"]*)" value="([^"]*)"', page.text)
        fields = [*fields, *hidden]
    if age:
        token = backdate(token, age)
    return client.post(path, [("token", token), *fields], status=status, extra_environ=extra_environ)


def form_body(quiz: Quiz, email: str) -> str:
    """A completed form as a visitor's browser posts it, its token issued a minute ago."""
    token = issue_token(TEST_SECRET, quiz.id, issued_at=int(time.time()) - 60)
    return urllib.parse.urlencode([("token", token), *good_answers(quiz, email=email)])


def post_at_once(port: int, path: str, bodies: list[str], threads: int) -> list[int]:
    """Post every form body to a server on 127.0.0.1 from ``threads`` threads, each on a
    keep-alive connection of its own; the statuses, in the order of ``bodies``."""
    local = threading.local()

    def post(body: str) -> int:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        response.read()
        return response.status

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(post, bodies))


def count(db: Session, model, *criteria) -> int:
    """Rows of ``model`` as the database has them now."""
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model).where(*criteria))


def wait_a_moment() -> None:
    time.sleep(0.01)
