"""Abuse protection and isolation of the public quiz pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
import webtest
from quizkit import FULL_QUIZ, good_answers, make_quiz, public_path, submit, token_of
from sqlalchemy import func, select, update

from orbitflow.app import make_app
from orbitflow.leads.models import Lead, LeadActivity
from orbitflow.models.meta import utcnow
from orbitflow.shared import shared
from orbitflow.tenants.models import Company
from orbitflow_plugins.quiz.models import Quiz, QuizSubmission
from orbitflow_plugins.quiz.ratelimit import QuizRateLimiter, parse_limits
from orbitflow_plugins.quiz.recorder import FunnelRecorder


def leads(db) -> int:
    return db.scalar(select(func.count()).select_from(Lead))


def submissions(db) -> int:
    return db.scalar(select(func.count()).select_from(QuizSubmission))


def test_honeypot_is_refused_without_a_lead(testapp, db, company, quiz):
    response = submit(testapp, public_path(company, quiz), [*good_answers(quiz), ("leave_blank", "http://spam")])
    assert response.status_int == 400
    assert "could not accept" in response.text
    assert leads(db) == 0 and submissions(db) == 0


def test_too_fast_is_refused_and_answers_are_kept(testapp, db, company, quiz):
    response = submit(testapp, public_path(company, quiz), good_answers(quiz), age=0)
    assert response.status_int == 400
    assert "That was quick" in response.text
    assert 'value="ada@example.com"' in response.text
    assert leads(db) == 0 and submissions(db) == 0


def test_forged_token_is_refused(testapp, db, company, quiz):
    path = public_path(company, quiz)
    token = token_of(testapp.get(path))
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = testapp.post(path, [("token", forged), *good_answers(quiz)], status=400)
    assert "not recognised" in response.text
    assert leads(db) == 0


@pytest.mark.parametrize("where", ["same company", "another company"])
def test_one_quizs_token_is_refused_on_another_quiz(testapp, db, company, quiz, make_company, funnel, where):
    owner_of_other = company if where == "same company" else make_company(name="Other Quizzes")
    other = make_quiz(db, owner_of_other, {**FULL_QUIZ, "title": "Other quiz", "slug": "other-quiz"})
    token = token_of(testapp.get(public_path(company, quiz)))
    response = submit(testapp, public_path(owner_of_other, other), good_answers(other), token=token, status=400)
    assert "This form was not recognised" in response.text
    funnel.flush()
    assert leads(db) == 0 and submissions(db) == 0
    # The token still works on its own quiz.
    submit(testapp, public_path(company, quiz), good_answers(quiz), token=token, status=303)
    assert db.scalars(select(QuizSubmission.quiz_id)).all() == [quiz.id]


def test_oversized_answers_are_refused(testapp, db, company, quiz):
    path = public_path(company, quiz)
    text_question = next(q for q in quiz.questions if q.kind == "text")
    fields = [(k, v) for k, v in good_answers(quiz) if k != text_question.field_name]
    response = submit(testapp, path, [*fields, (text_question.field_name, "x" * 501)])
    assert response.status_int == 400 and "under 500 characters" in response.text
    huge = submit(testapp, path, [*fields, ("padding", "y" * 70_000)])
    assert huge.status_int == 413 and "too long" in huge.text
    assert leads(db) == 0 and submissions(db) == 0


def test_submissions_over_the_limit_get_429(testapp, db, company, quiz):
    path = public_path(company, quiz)
    limit = parse_limits({})["submit"][0].amount
    for number in range(limit):
        submit(testapp, path, good_answers(quiz, email=f"v{number}@example.com"), status=303)
    page = testapp.get(path)
    response = testapp.post(path, [("token", token_of(page)), *good_answers(quiz)], status=429)
    assert int(response.headers["Retry-After"]) >= 1
    assert "Please wait a moment" in response.text
    assert submissions(db) == limit
    # Another address is not affected.
    other = {"REMOTE_ADDR": "10.9.9.9"}
    submit(testapp, path, good_answers(quiz, email="other@example.com"), status=303, extra_environ=other)


def test_views_over_the_limit_get_429(testapp, company, quiz):
    path = public_path(company, quiz)
    limit = parse_limits({})["view"][0].amount
    for _ in range(limit):
        testapp.get(path, status=200)
    response = testapp.get(path, status=429)
    assert response.headers["Retry-After"].isdigit()


@pytest.fixture(scope="module")
def apps(backend):
    """Two apps with a tiny view limit: one behind a trusted proxy, one not."""
    tiny = {"quiz.ratelimit.view": "2/minute"}
    trusted = make_app(backend.ini(**tiny, **{"orbitflow.trust_host": "true"}), environ={}, engine=backend.engine)
    direct = make_app(backend.ini(**tiny), environ={}, engine=backend.engine)
    return trusted, direct


@pytest.fixture
def app_of(apps, db):
    """One of ``apps``; its funnel events are written before the test's rows are deleted."""
    yield lambda trust: apps[0] if trust else apps[1]
    for app in apps:
        shared(app.registry, FunnelRecorder).flush()


@pytest.mark.parametrize("trust", [True, False], ids=["AUTH_TRUST_HOST=true", "untrusted"])
def test_forwarded_for_counts_only_behind_a_trusted_proxy(app_of, db, company, quiz, trust):
    app = app_of(trust)
    shared(app.registry, QuizRateLimiter).reset()
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.5"})
    path = public_path(company, quiz)
    for _ in range(2):
        client.get(path, headers={"X-Forwarded-For": "203.0.113.7"}, status=200)
    # The same visitor behind the proxy is limited ...
    client.get(path, headers={"X-Forwarded-For": "203.0.113.7, 10.0.0.5"}, status=429)
    # ... and a new address in the header is a new visitor only when the proxy is trusted.
    dodge = client.get(path, headers={"X-Forwarded-For": "198.51.100.1"}, expect_errors=True)
    assert dodge.status_int == (200 if trust else 429)
    # The visitor's address is stored hashed: no row holds it in clear.
    if trust:
        submit(client, path, good_answers(quiz), status=303, extra_environ={"HTTP_X_FORWARDED_FOR": "192.0.2.44"})
        row = db.scalars(select(QuizSubmission)).one()
        assert "192.0.2.44" not in (row.ip_hash or "") and len(row.ip_hash) == 64


def test_other_company_slug_inactive_company_and_unpublished_are_404(testapp, db, company, quiz, make_company):
    other = make_company(name="Other Co")
    testapp.get(f"/q/{other.subscription_id}/{quiz.slug}", status=404)
    testapp.get(f"/q/no-such-company/{quiz.slug}", status=404)
    draft = make_quiz(db, company, {**FULL_QUIZ, "slug": "draft-one"}, publish=False)
    testapp.get(public_path(company, draft), status=404)
    testapp.post(public_path(company, draft), good_answers(draft), status=404)
    company.is_active = False
    db.commit()
    testapp.get(public_path(company, quiz), status=404)


def test_public_page_is_framable_only_by_allowed_sites(testapp, db, company, quiz):
    page = testapp.get(public_path(company, quiz))
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    company.frame_ancestors = "https://www.example.com https://*.example.org"
    db.commit()
    page = testapp.get(public_path(company, quiz))
    assert "frame-ancestors https://www.example.com https://*.example.org" in page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in page.headers
    # Other pages stay unframeable.
    login = testapp.get("/login")
    assert "frame-ancestors 'none'" in login.headers["Content-Security-Policy"]


def test_lead_and_submission_are_stored_together_or_not_at_all(testapp, db, company, quiz, make_company):
    """The submission's insert fails after the lead was created: neither is kept."""
    path = public_path(company, quiz)
    token = token_of(testapp.get(path))
    nonce = token.split(".")[2]
    # Another quiz already holds this token (tokens are unique across all submissions).
    other_company = make_company(name="Clash Co")
    other_quiz = make_quiz(db, other_company, {**FULL_QUIZ, "slug": "clash"})
    db.add(
        QuizSubmission(
            company_id=other_company.id, quiz_id=other_quiz.id, token=nonce, answers=[], contact={}, created_lead=False
        )
    )
    db.commit()
    response = submit(testapp, path, good_answers(quiz), token=token, status=500)
    assert "Something went wrong" in response.text
    db.expire_all()
    assert leads(db) == 0
    assert submissions(db) == 1


def settled(db, company, quiz) -> None:
    """Make the quiz and its company look unchanged for an hour, so their definition is cached."""
    an_hour_ago = utcnow() - timedelta(hours=1)
    db.execute(update(Company).where(Company.id == company.id).values(updated_at=an_hour_ago))
    db.execute(update(Quiz).where(Quiz.id == quiz.id).values(updated_at=an_hour_ago))
    db.commit()


@pytest.mark.parametrize("change", ["unpublished", "company deactivated", "edited"])
def test_a_cached_quiz_changed_elsewhere_is_checked_before_its_answers_are_stored(
    wsgi_app, testapp, db, company, quiz, change
):
    """Another app process changes the quiz while a visitor has it open: the cached
    definition this process answers from is checked in the transaction that would store."""
    settled(db, company, quiz)
    path = public_path(company, quiz)
    page = testapp.get(path)
    # The change as another process makes it: straight in the database, this app's cache untouched.
    if change == "company deactivated":
        db.execute(update(Company).where(Company.id == company.id).values(is_active=False, updated_at=utcnow()))
    elif change == "unpublished":
        db.execute(update(Quiz).where(Quiz.id == quiz.id).values(status="draft", updated_at=utcnow()))
    else:
        db.execute(update(Quiz).where(Quiz.id == quiz.id).values(title="Find your plan, again", updated_at=utcnow()))
    db.commit()
    response = submit(testapp, path, good_answers(quiz), token=token_of(page), status="*")
    if change == "edited":
        # Checked again against the current definition, and stored.
        assert response.status_int == 303
        assert submissions(db) == 1
        line = db.scalars(select(LeadActivity).where(LeadActivity.kind == "quiz")).one()
        assert line.data["quiz"] == "Find your plan, again"
    else:
        assert response.status_int == 404
        assert leads(db) == 0 and submissions(db) == 0
