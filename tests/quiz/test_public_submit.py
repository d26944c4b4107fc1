"""Answering a published quiz: the submission and its lead, stored together."""

from __future__ import annotations

from quizkit import backdate, good_answers, nonce_of, public_path, submit, token_of
from sqlalchemy import func, select

from orbitflow.audit.models import AuditEntry
from orbitflow.leads.models import Lead, LeadActivity, Stage
from orbitflow_plugins.quiz.models import QuizFunnelEvent, QuizSubmission


def count(db, model, *criteria) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*criteria))


def test_page_works_without_javascript(testapp, company, quiz):
    page = testapp.get(public_path(company, quiz) + "?utm_source=fb&utm_campaign=spring")
    assert page.status_int == 200
    form = page.forms[0]
    assert form.method.lower() == "post"
    names = set(form.fields)
    assert {"name", "email", "phone", "consent", "token", "utm_source", "utm_campaign"} <= names
    assert all(question.field_name in names for question in quiz.questions)
    assert page.headers["Cache-Control"] == "no-store"
    assert "quiz.js" in page.text and "<script" in page.text
    # A theme stylesheet carries the quiz's colours (no inline styles under the CSP).
    theme = testapp.get("/q-theme/0ea5e9.css")
    assert "--quiz-brand: #0ea5e9" in theme.text
    assert theme.headers["Content-Type"].startswith("text/css")


def test_submission_creates_lead_in_first_stage_with_everything(testapp, db, company, quiz, funnel):
    path = public_path(company, quiz)
    response = submit(
        testapp, path, good_answers(quiz), query="?utm_source=facebook&utm_medium=cpc&utm_campaign=spring"
    )
    assert response.status_int == 303
    thanks = response.follow()
    assert "Thank you" in thanks.text and "Growth" in thanks.text

    submission = db.scalars(select(QuizSubmission)).one()
    lead = db.get(Lead, submission.lead_id)
    first_stage = db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)).first()
    assert lead.stage_id == first_stage.id
    assert lead.source == "quiz"
    assert (lead.name, lead.email, lead.consent) == ("Ada Lovelace", "ada@example.com", True)
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == ("facebook", "cpc", "spring")
    assert submission.score == 12 and submission.outcome_title == "Growth"
    assert submission.utm_source == "facebook" and submission.created_lead
    assert [a["answer"] for a in submission.answers] == ["Small", "TikTok", "example.org", "120", "4"]
    # The address is stored as an HMAC, never in clear.
    assert submission.ip_hash and "10.0.0.1" not in submission.ip_hash and len(submission.ip_hash) == 64
    kinds = {a.kind for a in db.scalars(select(LeadActivity).where(LeadActivity.lead_id == lead.id))}
    assert kinds == {"created", "quiz"}
    quiz_line = db.scalars(select(LeadActivity).where(LeadActivity.kind == "quiz")).one()
    assert quiz_line.data["answers"][0] == {"question": "Team size?", "answer": "Small"}
    assert quiz_line.data["outcome"] == "Growth"
    audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "lead.create")).one()
    assert audit.actor_name == f"quiz:{quiz.slug}" and audit.company_id == company.id
    # Audited like any lead: the visitor's address, the fields it was created with.
    assert audit.ip == "10.0.0.1"
    assert audit.changes["email"] == {"from": None, "to": "ada@example.com"}
    assert audit.changes["utm_campaign"] == {"from": None, "to": "spring"}
    assert audit.changes["stage_id"] == {"from": None, "to": first_stage.id}
    funnel.flush()
    kinds = sorted(e.kind for e in db.scalars(select(QuizFunnelEvent)))
    assert kinds == ["answer"] * 5 + ["complete", "start", "view"]


def test_referrer_of_the_landing_page_is_kept_through_the_form(testapp, db, company, quiz):
    path = public_path(company, quiz)
    page = testapp.get(path + "?utm_source=tiktok", headers={"Referer": "https://www.tiktok.com/"})
    assert 'name="referrer" value="https://www.tiktok.com/"' in page.text
    fields = [*good_answers(quiz), ("referrer", "https://www.tiktok.com/"), ("utm_source", "tiktok")]
    submit(testapp, path, fields, token=token_of(page), status=303)
    lead = db.scalars(select(Lead)).one()
    assert (lead.referrer, lead.utm_source) == ("https://www.tiktok.com/", "tiktok")


def test_same_email_joins_the_existing_lead(testapp, db, company, quiz):
    path = public_path(company, quiz)
    submit(testapp, path, good_answers(quiz), status=303)
    submit(testapp, path, good_answers(quiz, email="ADA@example.com", name="Ada L."), status=303)
    assert count(db, Lead) == 1
    assert count(db, QuizSubmission) == 2
    lead = db.scalars(select(Lead)).one()
    lines = db.scalars(select(LeadActivity).where(LeadActivity.kind == "quiz")).all()
    assert len(lines) == 2 and all(line.lead_id == lead.id for line in lines)
    second = db.scalars(select(QuizSubmission).order_by(QuizSubmission.id.desc())).first()
    assert second.created_lead is False and second.lead_id == lead.id


def test_posting_the_same_form_twice_gives_one_submission_and_one_lead(testapp, db, company, quiz):
    path = public_path(company, quiz)
    token = token_of(testapp.get(path))
    first = submit(testapp, path, good_answers(quiz), token=token, status=303)
    again = submit(testapp, path, good_answers(quiz, email="someone-else@example.com"), token=token, status=303)
    assert first.location == again.location
    assert "Thank you" in again.follow().text
    assert count(db, QuizSubmission) == 1 and count(db, Lead) == 1
    assert db.scalars(select(QuizSubmission)).one().token == nonce_of(token)


def test_a_form_posted_as_multipart_is_read_like_any_other(testapp, db, company, quiz):
    path = public_path(company, quiz)
    token = backdate(token_of(testapp.get(path)))
    response = testapp.post(path, [("token", token), *good_answers(quiz)], content_type="multipart/form-data")
    assert response.status_int == 303
    assert count(db, QuizSubmission) == 1


def test_a_body_that_is_not_utf8_is_refused_without_a_lead(testapp, db, company, quiz):
    path = public_path(company, quiz)
    token = backdate(token_of(testapp.get(path)))
    body = f"token={token}&name=Ada\xff".encode("latin-1")
    response = testapp.post(path, body, content_type="application/x-www-form-urlencoded", status="*")
    assert response.status_int == 400
    assert count(db, QuizSubmission) == 0 and count(db, Lead) == 0
