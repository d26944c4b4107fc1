"""A quiz of a company in Germany reads a visitor's local phone number as a German one;
the same number on another company's quiz is read in that company's country."""

from __future__ import annotations

from quizkit import good_answers, make_quiz, public_path, submit
from sqlalchemy import select

from orbitflow.leads.models import Lead
from orbitflow_plugins.quiz.models import QuizSubmission

LOCAL = "030 1234567"


def test_a_local_number_is_read_in_the_company_country(testapp, db, company, make_company):
    company.phone_region = "DE"
    db.merge(company)
    db.commit()
    quiz = make_quiz(db, company)
    response = submit(testapp, public_path(company, quiz), good_answers(quiz, phone=LOCAL))
    assert response.status_int == 303
    submission = db.scalars(select(QuizSubmission)).one()
    assert db.get(Lead, submission.lead_id).phone == "+49301234567"
    assert submission.contact["phone"] == "+49301234567"

    # In a company on the installation's country (US) the same digits are no number.
    other = make_company(name="Boston Quizzes")
    theirs = make_quiz(db, other)
    refused = submit(testapp, public_path(other, theirs), good_answers(theirs, phone=LOCAL, email="bo@example.com"))
    assert refused.status_int == 400
    assert "not a valid phone number for US" in refused.text
    assert db.scalar(select(Lead).where(Lead.company_id == other.id)) is None
