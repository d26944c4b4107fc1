"""The submission writer: submissions that arrive together share one transaction."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from quizkit import TEST_SECRET, count
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from orbitflow.leads.models import Lead, LeadActivity
from orbitflow_plugins.quiz.intake import LostRace, QuizChanged, SubmissionWriter, current_stamps
from orbitflow_plugins.quiz.models import QuizContactKey, QuizSubmission
from orbitflow_plugins.quiz.submissions import Draft, Stored


@pytest.fixture
def writer(backend):
    return SubmissionWriter(backend.engine, TEST_SECRET)


def test_drafts_written_together_share_one_lead_per_address(writer, db, draft):
    outcomes = writer.write_together(
        [draft("ada@example.com"), draft("bob@example.com"), draft("ADA@example.com", name="Ada L.")]
    )
    assert all(isinstance(outcome, Stored) for outcome in outcomes)
    ada, bob, ada_again = outcomes
    assert ada.created_lead and bob.created_lead and bob.lead_id != ada.lead_id
    assert not ada_again.created_lead and ada_again.lead_id == ada.lead_id
    assert count(db, QuizSubmission) == 3
    assert count(db, Lead) == 2
    assert count(db, QuizContactKey) == 2
    # The returning visitor's line carries the contact details they gave this time.
    lines = db.scalars(
        select(LeadActivity).where(LeadActivity.lead_id == ada.lead_id, LeadActivity.kind == "quiz")
    ).all()
    assert [line.data.get("contact", {}).get("name") for line in lines] == [None, "Ada L."]
    assert {line.data["submission_id"] for line in lines} == {ada.submission_id, ada_again.submission_id}
    # Each no-script visitor's steps are added with the submission: start, five answers, complete.


def test_a_draft_that_fails_does_not_fail_the_others(writer, db, draft):
    assert isinstance(writer.write_together([draft("first@example.com", nonce="already-used-1")])[0], Stored)
    outcomes = writer.write_together(
        [draft("second@example.com"), draft("again@example.com", nonce="already-used-1"), draft("third@example.com")]
    )
    assert isinstance(outcomes[0], Stored) and isinstance(outcomes[2], Stored)
    assert isinstance(outcomes[1], IntegrityError)
    assert count(db, QuizSubmission) == 3
    # Nothing of the refused draft was kept: no lead without its submission.
    assert count(db, Lead, Lead.email == "again@example.com") == 0
    assert count(db, Lead) == 3


def test_a_draft_checked_against_an_older_quiz_is_refused(writer, db, draft, quiz):
    with db.get_bind().connect() as connection:
        stamp = current_stamps(connection, [quiz.id])[quiz.id]
    company_changed, quiz_changed, status = stamp
    stale = (company_changed, quiz_changed - timedelta(seconds=5), status)
    outcomes = writer.write_together([draft("fresh@example.com", stamp=stamp), draft("stale@example.com", stamp=stale)])
    assert isinstance(outcomes[0], Stored)
    assert isinstance(outcomes[1], QuizChanged)
    assert count(db, Lead, Lead.email == "stale@example.com") == 0
    assert count(db, QuizSubmission) == 1


def test_an_unpublished_quiz_has_no_stamp(db, quiz):
    quiz.status = "draft"
    db.commit()
    with db.get_bind().connect() as connection:
        assert current_stamps(connection, [quiz.id]) == {}


def test_concurrent_submissions_are_written_in_fewer_transactions(backend, writer, db, draft):
    drafts = [draft(f"visitor{number}@example.com") for number in range(8)]
    commits: list[int] = []

    def count_commit(_connection) -> None:
        commits.append(1)

    event.listen(backend.engine, "commit", count_commit)
    start = threading.Barrier(len(drafts))
    results: list[Stored] = []

    def submit(one: Draft) -> None:
        start.wait()
        results.append(writer.store(one))

    threads = [threading.Thread(target=submit, args=(one,)) for one in drafts]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        event.remove(backend.engine, "commit", count_commit)
    assert len(results) == 8
    assert len({result.submission_id for result in results}) == 8
    assert count(db, QuizSubmission) == 8
    assert 1 <= len(commits) < 8


def test_store_raises_the_error_of_its_own_draft(writer, draft):
    writer.store(draft("first@example.com", nonce="used-once-only"))
    with pytest.raises(LostRace):
        writer.store(draft("second@example.com", nonce="used-once-only"))
    # The writer carries on after an error.
    assert writer.store(draft("third@example.com")).created_lead
