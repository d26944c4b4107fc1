"""A new company's dashboard lists its first steps for owners and admins, ticks each one
done, and goes away once all are done or someone hides it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow.webhooks.models import Webhook
from orbitflow_plugins.pixels.models import PixelSettings
from orbitflow_plugins.quiz.models import Quiz
from statements import Statements
from support import csrf_token

STEPS = ["stages", "region", "users", "quiz", "pixels", "webhooks"]


@pytest.fixture
def fresh(make_company):
    return make_company(name="Fresh Start")


@pytest.fixture
def founder(fresh, make_user):
    return make_user(fresh, "OWNER", username="founder")


def steps(page) -> dict[str, bool]:
    return {li["data-step"]: "done" in li["class"] for li in page.html.select("#first-steps li")}


def test_the_checklist_ticks_what_is_done(testapp, db, fresh, founder, login_as, make_user):
    login_as(founder)
    page = testapp.get("/dashboard")
    assert steps(page) == dict.fromkeys(STEPS, False)
    links = {li["data-step"]: li.a["href"] for li in page.html.select("#first-steps li")}
    assert links["users"].endswith("/settings/users") and links["quiz"].endswith("/quizzes")
    assert links["region"].endswith("/settings/region")
    make_user(fresh, "AGENT", username="teammate")
    db.add(Webhook(company_id=fresh.id, url="https://hooks.example/x", events=["lead.created"], secret_encrypted="x"))
    db.add(PixelSettings(company_id=fresh.id, facebook_pixel_id="123456789012345"))
    fresh.phone_region = "DE"
    db.merge(fresh)
    db.commit()
    page = testapp.get("/dashboard")
    assert steps(page) == {
        "stages": False,
        "region": True,
        "users": True,
        "quiz": False,
        "pixels": True,
        "webhooks": True,
    }
    assert "4 of 6 done." in page.text


def test_the_checklist_costs_one_query(backend, testapp, fresh, founder, login_as):
    login_as(founder)
    testapp.get("/dashboard")
    with Statements(backend.engine) as statements:
        testapp.get("/dashboard")
    checks = [s for s in statements.sent if "webhooks" in s and "pixel_settings" in s and "quizzes" in s]
    assert len(checks) == 1, "\n".join(statements.sent)


def test_it_goes_away_when_every_step_is_done(testapp, db, fresh, founder, login_as, make_user):
    make_user(fresh, "AGENT")
    db.add(Webhook(company_id=fresh.id, url="https://hooks.example/x", events=["lead.created"], secret_encrypted="x"))
    db.add(PixelSettings(company_id=fresh.id, tiktok_pixel_code="CODE123"))
    db.add(Quiz(company_id=fresh.id, title="Live", slug="live", status="unpublished", published_at=fresh.created_at))
    db.add(AuditEntry(company_id=fresh.id, action="stage.update", actor_name="founder"))
    fresh.phone_region = "US"
    db.merge(fresh)
    db.commit()
    login_as(founder)
    assert testapp.get("/dashboard").html.select_one("#first-steps") is None


def test_hiding_it_is_audited_needs_csrf_and_an_owner_or_admin(
    testapp, db, fresh, founder, login_as, make_user, unchanged
):
    agent = make_user(fresh, "AGENT", username="agent")
    login_as(agent)
    assert testapp.get("/dashboard").html.select_one("#first-steps") is None
    with unchanged():
        testapp.post("/dashboard/first-steps/dismiss", {"csrf_token": csrf_token(testapp)}, status=403)
    login_as(founder)
    with unchanged():
        testapp.post("/dashboard/first-steps/dismiss", {}, status=400)
    page = testapp.post("/dashboard/first-steps/dismiss", {"csrf_token": csrf_token(testapp)}, status=303).follow()
    assert page.html.select_one("#first-steps") is None
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "dashboard.first_steps_dismiss")).one()
    assert (entry.company_id, entry.actor_id) == (fresh.id, founder.id)


def test_one_companys_progress_is_not_anothers(testapp, db, fresh, founder, login_as, make_company, make_user):
    other = make_company(name="Busy Co")
    make_user(other, "AGENT")
    make_user(other, "OWNER")
    db.add(Webhook(company_id=other.id, url="https://hooks.example/y", events=["lead.created"], secret_encrypted="x"))
    db.add(AuditEntry(company_id=other.id, action="dashboard.first_steps_dismiss", actor_name="x"))
    db.commit()
    login_as(founder)
    assert steps(testapp.get("/dashboard")) == dict.fromkeys(STEPS, False)
