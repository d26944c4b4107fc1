"""JSON API of quizzes: list, create, get, update, publish."""

from __future__ import annotations

import pytest
from quizkit import FULL_QUIZ, make_quiz
from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow_plugins.quiz.models import Quiz
from support import csrf_token


@pytest.fixture
def api(testapp, manager, login_as):
    login_as(manager)
    headers = {"X-CSRF-Token": csrf_token(testapp)}
    return testapp, headers


def test_create_get_update_and_publish(api, db, company):
    client, headers = api
    company.privacy_policy_url = "https://acme.example/privacy"
    db.commit()
    created = client.post_json("/api/v1/quizzes", FULL_QUIZ, headers=headers, status=201).json
    assert created["status"] == "draft" and created["slug"] == "find-your-plan"
    assert [q["kind"] for q in created["questions"]] == ["single", "multiple", "text", "number", "rating"]
    assert created["public_url"].endswith(f"/q/{company.subscription_id}/find-your-plan")
    quiz_id = created["id"]

    got = client.get(f"/api/v1/quizzes/{quiz_id}").json
    assert got["questions"][0]["options"][1] == {
        "id": got["questions"][0]["options"][1]["id"],
        "label": "Small",
        "score": 5,
    }

    # Keep the first question (by id), drop the rest, add one.
    first = got["questions"][0]
    patch = {
        "title": "Find your plan today",
        "contact": {"phone": "required"},
        "questions": [first, {"kind": "text", "text": "Anything else?"}],
    }
    updated = client.patch_json(f"/api/v1/quizzes/{quiz_id}", patch, headers=headers).json
    assert updated["title"] == "Find your plan today" and updated["contact"]["phone"] == "required"
    assert [q["text"] for q in updated["questions"]] == ["Team size?", "Anything else?"]
    assert updated["questions"][0]["id"] == first["id"]

    published = client.post(f"/api/v1/quizzes/{quiz_id}/publish", headers=headers).json
    assert published["status"] == "published" and published["published_at"]
    listed = client.get("/api/v1/quizzes").json
    assert listed["total"] == 1 and listed["items"][0]["stats"] == {
        "views": 0,
        "completions": 0,
        "leads": 0,
        "conversion_rate": None,
    }
    actions = [
        e.action for e in db.scalars(select(AuditEntry).where(AuditEntry.action.like("quiz.%")).order_by(AuditEntry.id))
    ]
    assert actions == ["quiz.create", "quiz.update", "quiz.publish"]


def test_bad_input_is_422_by_field_and_changes_nothing(api, db, company):
    client, headers = api
    quiz = make_quiz(db, company, publish=False)
    # The quiz's rules (a choice needs two options) are checked once the fields have their types.
    bad = {"questions": [{"kind": "single", "text": "Only one option", "options": [{"label": "A"}]}]}
    error = client.patch_json(f"/api/v1/quizzes/{quiz.id}", bad, headers=headers, status=422).json["error"]
    assert error["code"] == "invalid"
    assert "questions.1.options" in error["fields"]
    error = client.patch_json(
        f"/api/v1/quizzes/{quiz.id}", {"title": "", "brand_color": "red"}, headers=headers, status=422
    ).json["error"]
    assert error["fields"] == {"title": "Must not be empty.", "brand_color": "Use the form #4f46e5."}
    db.expire_all()
    assert db.get(Quiz, quiz.id).title == "Find your plan" and len(db.get(Quiz, quiz.id).questions) == 5
    client.post_json("/api/v1/quizzes", {"title": "x", "slug": "find-your-plan"}, headers=headers, status=422)


def test_publish_lists_what_is_missing(api, db, company):
    client, headers = api
    quiz = make_quiz(db, company, {"title": "Empty", "slug": "empty"}, publish=False)
    error = client.post(f"/api/v1/quizzes/{quiz.id}/publish", headers=headers, status=422).json["error"]
    assert "Add at least one question." in error["fields"].values()
    assert any("privacy policy" in message for message in error["fields"].values())


def test_quota_is_409(testapp, db, make_company, make_user, login_as):
    free = make_company(name="Free", plan="FREE")
    login_as(make_user(free, "OWNER"))
    headers = {"X-CSRF-Token": csrf_token(testapp)}
    testapp.post_json("/api/v1/quizzes", {"title": "One"}, headers=headers, status=201)
    error = testapp.post_json("/api/v1/quizzes", {"title": "Two"}, headers=headers, status=409).json["error"]
    assert error["code"] == "quota_exceeded" and "allows 1 quiz" in error["message"]


def test_other_company_quiz_is_404_and_csrf_and_roles_hold(
    api, db, company, make_company, make_user, login_as, another_client
):
    client, headers = api
    foreign = make_quiz(db, make_company(name="Other"), {**FULL_QUIZ, "slug": "theirs"})
    client.get(f"/api/v1/quizzes/{foreign.id}", status=404)
    client.patch_json(f"/api/v1/quizzes/{foreign.id}", {"title": "Mine now"}, headers=headers, status=404)
    client.post(f"/api/v1/quizzes/{foreign.id}/publish", headers=headers, status=404)
    assert client.get("/api/v1/quizzes").json["total"] == 0
    client.post_json("/api/v1/quizzes", {"title": "No token"}, status=400)
    agent_client = login_as(make_user(company, "AGENT"), another_client())
    agent_headers = {"X-CSRF-Token": csrf_token(agent_client)}
    agent_client.post_json("/api/v1/quizzes", {"title": "Agent's"}, headers=agent_headers, status=403)
    assert agent_client.get("/api/v1/quizzes").status_int == 200


def test_openapi_documents_the_quiz_operations(testapp):
    document = testapp.get("/api/v1/openapi.json").json
    assert {"get", "post"} <= set(document["paths"]["/api/v1/quizzes"])
    assert {"get", "patch"} <= set(document["paths"]["/api/v1/quizzes/{quiz_id}"])
    assert "post" in document["paths"]["/api/v1/quizzes/{quiz_id}/publish"]
    assert "Quiz" in document["components"]["schemas"]
