"""Quiz leads get an owner by the quiz's rule: round robin among chosen users, or by
outcome; the rule is set in the builder, audited, and checked against the company."""

from __future__ import annotations

import pytest
from quizkit import FULL_QUIZ, count, good_answers, make_quiz, public_path, submit
from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow.leads.models import Lead
from orbitflow_plugins.quiz.models import Quiz, QuizAssignee
from support import csrf_token


@pytest.fixture
def sellers(company, make_user):
    return [make_user(company, "AGENT", username=f"agent{n}", name=f"Agent {n}") for n in (1, 2, 3)]


def save_rule(client, quiz, status=303, **fields):
    data = [("csrf_token", csrf_token(client)), ("mode", fields.pop("mode"))]
    data += [("users", str(user_id)) for user_id in fields.pop("users", [])]
    data += [(f"outcome_{outcome_id}", str(user_id)) for outcome_id, user_id in fields.pop("outcomes", {}).items()]
    return client.post(f"/quizzes/{quiz.id}/assignment", data, status=status)


def visit(client, company, quiz, email: str):
    submit(client, public_path(company, quiz), good_answers(quiz, email=email), status=303)


def owners(db, emails: list[str]) -> list[int | None]:
    db.expire_all()
    by_email = {lead.email: lead.owner_id for lead in db.scalars(select(Lead).where(Lead.email.in_(emails)))}
    return [by_email[email] for email in emails]


def audit_entries(db, action: str) -> list[AuditEntry]:
    db.expire_all()
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_round_robin_hands_new_leads_out_in_turn_and_is_audited(testapp, db, company, quiz, manager, sellers, login_as):
    login_as(manager)
    visit(testapp, company, quiz, "before@example.com")  # no rule yet: the definition is cached
    page = save_rule(testapp, quiz, mode="round_robin", users=[u.id for u in sellers]).follow()
    assert "Lead assignment saved." in page.text
    checked = page.html.select('#assignment input[name="users"][checked]')
    assert sorted(box["value"] for box in checked) == sorted(str(u.id) for u in sellers)
    entry = audit_entries(db, "quiz.assignment")[0]
    assert entry.target_id == str(quiz.id) and entry.actor_name == manager.username
    assert entry.changes == {
        "mode": {"from": "none", "to": "round_robin"},
        "users": {"from": None, "to": ["Agent 1", "Agent 2", "Agent 3"]},
    }

    emails = [f"visitor{n}@example.com" for n in range(4)]
    for email in emails:
        visit(testapp, company, quiz, email)
    assert owners(db, ["before@example.com", *emails]) == [None, *[u.id for u in sellers], sellers[0].id]
    # The lead's own audit entry names its owner.
    lead = db.scalars(select(Lead).where(Lead.email == emails[1])).one()
    created = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "lead.create", AuditEntry.target_id == str(lead.id))
    ).one()
    assert created.changes["owner_id"] == {"from": None, "to": sellers[1].id}
    # A visitor the company already has joins their lead, which keeps its owner (and takes no turn).
    visit(testapp, company, quiz, emails[0])
    visit(testapp, company, quiz, "next@example.com")
    assert owners(db, [emails[0], "next@example.com"]) == [sellers[0].id, sellers[1].id]
    assert count(db, Lead) == 6


def test_deactivated_users_are_skipped_and_with_none_left_leads_stay_unassigned(
    testapp, db, company, quiz, manager, sellers, login_as
):
    login_as(manager)
    save_rule(testapp, quiz, mode="round_robin", users=[sellers[0].id, sellers[1].id])
    sellers[0].is_active = False
    db.commit()
    visit(testapp, company, quiz, "a@example.com")
    visit(testapp, company, quiz, "b@example.com")
    assert owners(db, ["a@example.com", "b@example.com"]) == [sellers[1].id, sellers[1].id]
    sellers[1].is_active = False
    db.commit()
    visit(testapp, company, quiz, "c@example.com")
    assert owners(db, ["c@example.com"]) == [None]


def test_by_outcome_gives_each_outcomes_leads_to_its_user(testapp, db, company, quiz, manager, sellers, login_as):
    login_as(manager)
    outcomes = {o.title: o.id for o in quiz.outcomes}
    page = save_rule(
        testapp, quiz, mode="outcome", outcomes={outcomes["Starter"]: sellers[0].id, outcomes["Growth"]: sellers[2].id}
    ).follow()
    chosen = page.html.select_one(f"#outcome_{outcomes['Growth']} option[selected]")
    assert chosen["value"] == str(sellers[2].id)
    assert audit_entries(db, "quiz.assignment")[0].changes["by_outcome"] == {
        "from": None,
        "to": {"Starter": "Agent 1", "Growth": "Agent 3"},
    }
    visit(testapp, company, quiz, "growth@example.com")  # good_answers score 12: Growth
    assert owners(db, ["growth@example.com"]) == [sellers[2].id]
    # Back to no rule: the next lead is unassigned, the users' rows are gone.
    save_rule(testapp, quiz, mode="none")
    visit(testapp, company, quiz, "later@example.com")
    assert owners(db, ["later@example.com"]) == [None]
    assert count(db, QuizAssignee) == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mode": "lottery"}, "Choose how new leads are assigned."),
        ({"mode": "round_robin"}, "Choose at least one user to take turns."),
        ({"mode": "round_robin", "users": ["abc"]}, "Choose among the company's active users."),
        ({"mode": "outcome"}, "Choose a user for at least one outcome."),
    ],
    ids=["unknown-mode", "no-users", "not-an-id", "no-outcome-user"],
)
def test_bad_rules_are_refused_with_a_message_and_change_nothing(
    testapp, db, quiz, manager, login_as, unchanged, fields, message
):
    login_as(manager)
    with unchanged():
        page = save_rule(testapp, quiz, status=400, **fields)
    assert message in page.html.select_one("#assignment").get_text(" ")


def test_a_rule_cannot_name_another_companys_user_or_a_deactivated_one(
    testapp, db, quiz, manager, sellers, login_as, unchanged, make_company, make_user
):
    outsider = make_user(make_company(name="Rival"), "AGENT", username="rival")
    gone = sellers[2]
    gone.is_active = False
    db.commit()
    login_as(manager)
    for user in (outsider, gone):
        with unchanged():
            page = save_rule(testapp, quiz, status=400, mode="round_robin", users=[sellers[0].id, user.id])
        assert "Choose among the company&#39;s active users." in page.text
    outcome = quiz.outcomes[0]
    with unchanged():
        save_rule(testapp, quiz, status=400, mode="outcome", outcomes={outcome.id: outsider.id})
    # The picker offers only the company's active users who work leads.
    offered = {box["value"] for box in testapp.get(f"/quizzes/{quiz.id}").html.select('input[name="users"]')}
    assert str(outsider.id) not in offered and str(gone.id) not in offered and str(sellers[0].id) in offered


def test_an_outcome_of_another_quiz_is_refused(testapp, db, company, quiz, manager, sellers, login_as, unchanged):
    other = make_quiz(db, company, {**FULL_QUIZ, "slug": "other"}, publish=False)
    login_as(manager)
    with unchanged():
        page = save_rule(testapp, quiz, status=400, mode="outcome", outcomes={other.outcomes[0].id: sellers[0].id})
    assert "Choose among this quiz&#39;s outcomes." in page.text


@pytest.mark.parametrize("role", ["AGENT", "VIEWER"])
def test_only_quiz_editors_set_rules(testapp, db, company, quiz, sellers, make_user, login_as, unchanged, role):
    login_as(make_user(company, role))
    with unchanged():
        save_rule(testapp, quiz, status=403, mode="round_robin", users=[sellers[0].id])
    # They see the rule, read-only.
    section = testapp.get(f"/quizzes/{quiz.id}").html.select_one("#assignment")
    assert section.select_one("fieldset.assign-modes").has_attr("disabled")
    assert "Save assignment" not in section.get_text()


def test_rules_need_the_csrf_token_and_stay_within_the_company(
    testapp, db, company, quiz, manager, sellers, login_as, unchanged, make_company, make_user
):
    login_as(manager)
    with unchanged():
        testapp.post(f"/quizzes/{quiz.id}/assignment", {"mode": "none"}, status=400)
    rival = make_company(name="Rival")
    their_quiz = make_quiz(db, rival)
    with unchanged():
        save_rule(testapp, their_quiz, status=404, mode="round_robin", users=[sellers[0].id])
    db.expire_all()
    assert db.get(Quiz, their_quiz.id).assign_mode == "none"
