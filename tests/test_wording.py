"""The words on the pages agree with their numbers ("1 quiz", "2 quizzes"), a checkbox
sits in its label, plan names never break, and a viewer is told the lead is read only."""

from __future__ import annotations

import re

from sqlalchemy import select

from orbitflow.leads.models import Lead, Stage
from orbitflow.wording import plural


def _text(element) -> str:
    return re.sub(r"\s+", " ", element.get_text(" ")).strip()


def _lead(db, company) -> Lead:
    stage = db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)).first()
    lead = Lead(company_id=company.id, name="Wendy Words", stage_id=stage.id, position=0)
    db.add(lead)
    db.commit()
    return lead


def test_plural_agrees_with_the_count():
    assert plural(1, "quiz", "quizzes") == "1 quiz"
    assert plural(0, "quiz", "quizzes") == "0 quizzes"
    assert plural(2, "active user") == "2 active users"
    assert plural(1, "lead", number=False) == "lead"


def test_dashboard_counts_one_user_and_one_lead_in_the_singular(testapp, login_as, make_company, make_user, db):
    company = make_company(name="Solo Ltd")
    owner = make_user(company, "OWNER", username="solo")
    _lead(db, company)
    login_as(owner)
    page = testapp.get("/dashboard", status=200)
    labels = [_text(card) for card in page.html.select(".grid > .card")[:2]]
    assert labels == ["1 active user", "1 lead"]
    make_user(company, "AGENT", username="second")
    page = testapp.get("/dashboard", status=200)
    assert _text(page.html.select(".grid > .card")[0]) == "2 active users"


def test_plan_choices_and_quota_message_use_the_singular_for_one(testapp, login_as, platform, make_company, make_user):
    root = make_user(platform, "SUPER_ADMIN", username="root")
    login_as(root)
    form = testapp.get("/admin/companies/new", status=200)
    free = _text(form.html.select_one("#plan option[value=FREE]"))
    assert free == "Free — 3 users, 1 quiz"
    assert "1 quizzes" not in form.text
    company = make_company(name="Tiny", plan="FREE")
    page = testapp.get(f"/admin/companies/{company.id}", status=200)
    assert "quiz allowed" in _text(page.html) and "1 quizzes" not in page.text
    plan = page.html.find("dt", string="Plan").find_next_sibling("dd")
    assert "nowrap" in plan["class"] and _text(plan) == "FREE"


def test_must_change_password_checkbox_is_inside_its_label(testapp, login_as, platform, make_company, make_user):
    root = make_user(platform, "SUPER_ADMIN", username="root")
    company = make_company(name="Label Co")
    login_as(root)
    page = testapp.get(f"/admin/companies/{company.id}/users/new", status=200)
    box = page.html.select_one("input[name=must_change_password]")
    assert box.parent.name == "label" and "Must choose a new password" in _text(box.parent)
    assert "check" in box.find_parent("div")["class"]


def test_a_viewer_is_told_the_lead_is_read_only_and_its_fields_are_disabled(
    testapp, login_as, make_company, make_user, db
):
    company = make_company(name="View Co")
    viewer = make_user(company, "VIEWER", username="vera")
    agent = make_user(company, "OWNER", username="otto")
    lead = _lead(db, company)
    login_as(viewer)
    page = testapp.get(f"/leads/{lead.id}", status=200)
    form = page.html.select_one("form.lead-form")
    assert "Read only" in _text(form.select_one(".read-only-note"))
    assert form.select_one("fieldset").has_attr("disabled")
    assert not form.select("button[type=submit]")
    login_as(agent)
    page = testapp.get(f"/leads/{lead.id}", status=200)
    form = page.html.select_one("form.lead-form")
    assert form.select_one(".read-only-note") is None and not form.select_one("fieldset").has_attr("disabled")
