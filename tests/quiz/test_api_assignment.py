"""A quiz's lead assignment rule in the JSON API: shown with the quiz, set by PATCH with
the builder page's checks (the company's active users who work leads, the quiz's own
outcomes) and its audit entry; refused input is 422 by field and changes nothing."""

from __future__ import annotations

import re

import pytest
from quizkit import FULL_QUIZ, good_answers, make_quiz, public_path, submit
from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow.leads.models import Lead
from orbitflow_plugins.quiz.models import Quiz, QuizAssignee
from support import csrf_token

NO_RULE = {"mode": "none", "user_ids": [], "by_outcome": []}


@pytest.fixture
def sellers(company, make_user):
    return [make_user(company, "AGENT", username=f"agent{n}", name=f"Agent {n}") for n in (1, 2)]


def patch(client, quiz, rule, status=200, headers=None, **fields):
    headers = headers if headers is not None else {"X-CSRF-Token": csrf_token(client)}
    return client.patch_json(
        f"/api/v1/quizzes/{quiz.id}",
        {"assignment": rule, **fields},
        headers={"Accept": "application/json", **headers},
        status=status,
    )


def stored(db, quiz) -> tuple[str, list[tuple[int | None, int]]]:
    db.expire_all()
    row = db.get(Quiz, quiz.id)
    rows = db.scalars(select(QuizAssignee).where(QuizAssignee.quiz_id == quiz.id).order_by(QuizAssignee.id))
    return row.assign_mode, [(a.outcome_id, a.user_id) for a in rows]


def entries(db) -> list[AuditEntry]:
    db.expire_all()
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == "quiz.assignment").order_by(AuditEntry.id)))


def test_round_robin_is_shown_set_read_back_and_audited(testapp, login_as, manager, quiz, sellers, company, db):
    login_as(manager)
    assert testapp.get(f"/api/v1/quizzes/{quiz.id}").json["assignment"] == NO_RULE
    ids = [sellers[1].id, sellers[0].id]
    body = patch(testapp, quiz, {"mode": "round_robin", "user_ids": ids}).json
    assert body["assignment"] == {"mode": "round_robin", "user_ids": ids, "by_outcome": []}
    assert stored(db, quiz) == ("round_robin", [(None, ids[0]), (None, ids[1])])
    assert testapp.get(f"/api/v1/quizzes/{quiz.id}").json["assignment"]["user_ids"] == ids
    (entry,) = entries(db)
    assert entry.target_id == str(quiz.id) and entry.actor_id == manager.id and entry.company_id == company.id
    assert entry.changes == {
        "mode": {"from": "none", "to": "round_robin"},
        "users": {"from": None, "to": ["Agent 2", "Agent 1"]},
    }
    # The public quiz follows the new rule at once.
    submit(testapp, public_path(company, quiz), good_answers(quiz, email="first@example.com"), status=303)
    db.expire_all()
    assert db.scalars(select(Lead.owner_id).where(Lead.email == "first@example.com")).one() == ids[0]
    # The same rule again writes nothing; the builder page shows what the API set.
    patch(testapp, quiz, {"mode": "round_robin", "user_ids": ids})
    assert len(entries(db)) == 1
    checked = testapp.get(f"/quizzes/{quiz.id}").html.select('#assignment input[name="users"][checked]')
    assert sorted(box["value"] for box in checked) == sorted(str(i) for i in ids)


def test_by_outcome_and_back_to_none(testapp, login_as, manager, quiz, sellers, db):
    login_as(manager)
    outcomes = {o.title: o.id for o in quiz.outcomes}
    pairs = [{"outcome_id": outcomes["Growth"], "user_id": sellers[1].id}]
    body = patch(testapp, quiz, {"mode": "outcome", "by_outcome": pairs}).json
    assert body["assignment"] == {"mode": "outcome", "user_ids": [], "by_outcome": pairs}
    assert stored(db, quiz) == ("outcome", [(outcomes["Growth"], sellers[1].id)])
    assert entries(db)[-1].changes["by_outcome"] == {"from": None, "to": {"Growth": "Agent 2"}}
    assert patch(testapp, quiz, {"mode": "none"}).json["assignment"] == NO_RULE
    assert stored(db, quiz) == ("none", [])
    assert entries(db)[-1].changes["mode"] == {"from": "outcome", "to": "none"}


@pytest.mark.parametrize(
    ("rule", "field", "message"),
    [
        ({"mode": "lottery"}, "assignment.mode", None),
        ({"user_ids": [1]}, "assignment", None),
        ({"mode": "round_robin"}, "assignment.user_ids", "Choose at least one user to take turns."),
        ({"mode": "round_robin", "user_ids": ["1"]}, "assignment.user_ids.0", None),
        ({"mode": "outcome"}, "assignment.by_outcome", "Choose a user for at least one outcome."),
        ({"mode": "outcome", "by_outcome": [{"outcome_id": 1}]}, "assignment.by_outcome.0", None),
        ({"mode": "none", "colour": "red"}, "assignment", None),
    ],
    ids=["unknown-mode", "no-mode", "no-users", "id-as-text", "no-outcome-user", "no-user-id", "other-name"],
)
def test_bad_rules_are_422_by_field_and_change_nothing(
    testapp, login_as, manager, quiz, sellers, db, unchanged, rule, field, message
):
    login_as(manager)
    patch(testapp, quiz, {"mode": "round_robin", "user_ids": [sellers[0].id]})
    with unchanged():
        error = patch(testapp, quiz, rule, status=422, title="Would change").json["error"]
    assert any(name == field or name.startswith(field + ".") for name in error["fields"]), error
    if message:
        assert error["fields"] == {field: message}
    assert stored(db, quiz) == ("round_robin", [(None, sellers[0].id)])
    assert db.get(Quiz, quiz.id).title == "Find your plan"


def test_users_of_another_company_inactive_users_and_viewers_are_refused(
    testapp, login_as, manager, quiz, sellers, company, make_company, make_user, db, unchanged
):
    outsider = make_user(make_company(name="Rival"), "AGENT", username="rival")
    gone = make_user(company, "AGENT", username="gone")
    gone.is_active = False
    viewer = make_user(company, "VIEWER", username="vera")
    db.commit()
    login_as(manager)
    for user in (outsider, gone, viewer):
        with unchanged():
            error = patch(
                testapp, quiz, {"mode": "round_robin", "user_ids": [sellers[0].id, user.id]}, status=422
            ).json["error"]
        assert error["fields"] == {"assignment.user_ids": "Choose among the company's active users."}
        outcome = quiz.outcomes[0]
        with unchanged():
            error = patch(
                testapp,
                quiz,
                {"mode": "outcome", "by_outcome": [{"outcome_id": outcome.id, "user_id": user.id}]},
                status=422,
            ).json["error"]
        assert error["fields"] == {"assignment.by_outcome": "Choose among the company's active users."}
    assert stored(db, quiz) == ("none", [])


def test_an_outcome_of_another_quiz_is_refused(testapp, login_as, manager, quiz, sellers, company, db, unchanged):
    other = make_quiz(db, company, {**FULL_QUIZ, "slug": "other"}, publish=False)
    login_as(manager)
    rule = {"mode": "outcome", "by_outcome": [{"outcome_id": other.outcomes[0].id, "user_id": sellers[0].id}]}
    with unchanged():
        error = patch(testapp, quiz, rule, status=422).json["error"]
    assert error["fields"] == {"assignment.by_outcome": "Choose among this quiz's outcomes."}
    doubled = [{"outcome_id": quiz.outcomes[0].id, "user_id": u.id} for u in sellers]
    with unchanged():
        error = patch(testapp, quiz, {"mode": "outcome", "by_outcome": doubled}, status=422).json["error"]
    assert error["fields"] == {"assignment.by_outcome": "Choose one user per outcome."}


def test_a_rule_is_set_in_the_same_patch_that_keeps_the_outcomes(testapp, login_as, manager, quiz, sellers, db):
    login_as(manager)
    got = testapp.get(f"/api/v1/quizzes/{quiz.id}").json
    # Keep the outcomes by id and give the first one's leads to an agent.
    first = got["outcomes"][0]
    rule = {"mode": "outcome", "by_outcome": [{"outcome_id": first["id"], "user_id": sellers[0].id}]}
    body = patch(testapp, quiz, rule, outcomes=got["outcomes"]).json
    assert body["assignment"]["by_outcome"] == rule["by_outcome"]
    assert stored(db, quiz) == ("outcome", [(first["id"], sellers[0].id)])


@pytest.mark.parametrize("role", ["AGENT", "VIEWER"])
def test_only_quiz_editors_set_the_rule(testapp, login_as, quiz, sellers, company, make_user, db, unchanged, role):
    login_as(make_user(company, role))
    # They may read it (quizzes.view), as the builder page shows it to them.
    assert testapp.get(f"/api/v1/quizzes/{quiz.id}").json["assignment"] == NO_RULE
    with unchanged():
        patch(testapp, quiz, {"mode": "round_robin", "user_ids": [sellers[0].id]}, status=403)


def test_csrf_api_keys_and_another_companys_quiz(
    testapp, login_as, quiz, sellers, company, make_company, make_user, db, unchanged
):
    owner = make_user(company, "OWNER", username="olga")
    browser = login_as(owner)
    with unchanged():
        answer = patch(browser, quiz, {"mode": "round_robin", "user_ids": [sellers[0].id]}, status=400, headers={})
    assert answer.json["error"]["code"] == "csrf_failed"
    rival_quiz = make_quiz(db, make_company(name="Rival"))
    with unchanged():
        patch(browser, rival_quiz, {"mode": "round_robin", "user_ids": [sellers[0].id]}, status=404)
    assert stored(db, rival_quiz) == ("none", [])
    page = browser.post("/settings/api-keys", {"name": "sync", "role": "MANAGER", "csrf_token": csrf_token(browser)})
    key = re.search(r"data-raw-key>([^<]+)<", page.text).group(1)
    robot = testapp.__class__(testapp.app, extra_environ={"HTTP_HOST": "localhost"})
    rule = {"mode": "round_robin", "user_ids": [sellers[1].id]}
    patch(robot, quiz, rule, headers={"Authorization": f"Bearer {key}"})
    assert stored(db, quiz) == ("round_robin", [(None, sellers[1].id)])
    assert entries(db)[-1].actor_name.startswith("api-key:sync #")


def test_the_document_describes_it(testapp):
    schemas = testapp.get("/api/v1/openapi.json").json["components"]["schemas"]
    assert schemas["QuizPatch"]["properties"]["assignment"] == {"$ref": "#/components/schemas/QuizAssignment"}
    assert schemas["Quiz"]["properties"]["assignment"] == {"$ref": "#/components/schemas/QuizAssignment"}
    assert schemas["QuizAssignment"]["properties"]["mode"]["enum"] == ["none", "round_robin", "outcome"]
