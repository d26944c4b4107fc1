"""Super admin → Companies: list with counts, create with plan and quotas, edit, deactivate."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from orbitflow.audit.models import AuditEntry
from orbitflow.leads.models import Lead, Stage
from orbitflow.tenants.models import PLAN_QUOTAS, Company, Plan
from orbitflow.tenants.services import public_company
from support import csrf_token, login


def _company(db, slug: str) -> Company | None:
    db.expire_all()
    return db.scalars(select(Company).where(Company.subscription_id == slug)).first()


def _actions(db, company_id: int) -> list[str]:
    db.expire_all()
    query = select(AuditEntry.action).where(AuditEntry.company_id == company_id).order_by(AuditEntry.id)
    return list(db.scalars(query))


def _add_leads(db, company: Company, count: int) -> None:
    stage = db.scalars(select(Stage).where(Stage.company_id == company.id)).first()
    db.add_all(Lead(company_id=company.id, name=f"Lead {n}", stage_id=stage.id) for n in range(count))
    db.commit()


def test_list_shows_each_company_with_user_and_lead_counts(admin_client, acme, acme_owner, make_user, db):
    make_user(acme, "AGENT")
    make_user(acme, "AGENT", is_active=False)
    _add_leads(db, acme, 3)
    page = admin_client.get("/admin/companies", status=200)
    row = page.html.find("code", string="acme").find_parent("tr")
    cells = [td.get_text(strip=True) for td in row.find_all("td")]
    assert cells[:6] == ["Acme Rockets", "acme", "STARTER", "2 / 10", "3", "5"]
    assert "active" in cells[6]
    assert page.html.find("nav", class_="subnav").find("a", attrs={"aria-current": "page"}).text == "Companies"


def test_list_pages_and_filters(admin_client, make_company):
    for number in range(52):
        make_company(name=f"Bulk {number:02d}", subscription_id=f"bulk-{number:02d}")
    first = admin_client.get("/admin/companies", {"q": "bulk"}, status=200)
    assert first.text.count("bulk-") == 50
    assert "1\N{EN DASH}50 of 52" in first.text
    second = first.click(description="Next")
    assert "51\N{EN DASH}52 of 52" in second.text
    assert "bulk-51" in second.text and "bulk-00" not in second.text
    none = admin_client.get("/admin/companies", {"q": "no-such-company"}, status=200)
    assert "No company matches" in none.text
    inactive = admin_client.get("/admin/companies", {"status": "inactive"}, status=200)
    assert "No company matches" in inactive.text


def test_create_company_with_plan_defaults_then_owner_form(admin_client, db):
    form = admin_client.get("/admin/companies/new", status=200).forms["company-form"]
    form["name"] = "Globex"
    form["subscription_id"] = "Globex"
    form["plan"] = "PROFESSIONAL"
    response = form.submit(status=303)
    company = _company(db, "globex")
    assert (company.plan, company.max_users, company.max_quizzes) == ("PROFESSIONAL", 50, 25)
    assert response.location.endswith(f"/admin/companies/{company.id}/users/new?role=OWNER")
    owner_form = response.follow()
    assert "Company Globex created. Now create its owner." in owner_form.text
    assert owner_form.forms["user-form"]["role"].value == "OWNER"
    assert db.scalar(select(func.count()).select_from(Stage).where(Stage.company_id == company.id)) == 6
    entry = db.scalars(select(AuditEntry).where(AuditEntry.company_id == company.id)).one()
    assert entry.action == "company.create"
    assert entry.actor_name == "root"
    assert entry.changes["plan"] == {"from": None, "to": "PROFESSIONAL"}


def test_create_company_with_overridden_quotas(admin_client, db):
    form = admin_client.get("/admin/companies/new").forms["company-form"]
    form["name"], form["subscription_id"], form["plan"] = "Initech", "initech", "FREE"
    form["max_users"], form["max_quizzes"] = "7", "0"
    form.submit(status=303)
    company = _company(db, "initech")
    assert (company.max_users, company.max_quizzes) == (7, 0)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": ""}, "name", "Enter the company's name."),
        ({"subscription_id": "Bad Slug!"}, "subscription_id", "lowercase letters, digits and dashes"),
        ({"subscription_id": "acme"}, "subscription_id", "This subscription ID is taken."),
        ({"plan": "GOLD"}, "plan", "Choose one of"),
        ({"max_users": "many"}, "max_users", "Enter a whole number"),
        ({"max_quizzes": "-1"}, "max_quizzes", "Use a number from 0 to 100000."),
    ],
)
def test_bad_company_input_is_refused_by_field(admin_client, acme, db, fields, field, message):
    before = db.scalar(select(func.count()).select_from(Company))
    data = {"name": "New Co", "subscription_id": "new-co", "plan": "FREE", "max_users": "", "max_quizzes": ""}
    data.update(fields)
    page = admin_client.post("/admin/companies/new", {**data, "csrf_token": csrf_token(admin_client)}, status=400)
    error = page.html.find(id=field).find_parent("div", class_="field").find("div", class_="error")
    assert message in error.text
    assert page.forms["company-form"]["name"].value == data["name"]  # what was typed is kept
    assert db.scalar(select(func.count()).select_from(Company)) == before
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "company.create")) == 0


def _errors(page) -> dict[str, str]:
    fields = page.html.select("#company-form div.field.has-error")
    return {field.find(["input", "select"])["id"]: field.find("div", class_="error").get_text() for field in fields}


def test_every_bad_field_shows_on_the_first_submit_of_a_new_company(admin_client, acme, db):
    """A quota that is not a number used to hide the name and subscription ID errors
    until the next submit."""
    before = db.scalar(select(func.count()).select_from(Company))
    data = {"name": "", "subscription_id": "acme", "plan": "FREE", "max_users": "many", "max_quizzes": "-1"}
    page = admin_client.post("/admin/companies/new", {**data, "csrf_token": csrf_token(admin_client)}, status=400)
    assert set(_errors(page)) == {"name", "subscription_id", "max_users", "max_quizzes"}
    assert "This subscription ID is taken." in _errors(page)["subscription_id"]
    assert "Enter a whole number" in _errors(page)["max_users"]
    assert db.scalar(select(func.count()).select_from(Company)) == before
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "company.create")) == 0


def test_a_good_new_company_with_a_bad_quota_is_not_created(admin_client, db):
    data = {"name": "Half Good", "subscription_id": "half-good", "plan": "FREE", "max_users": "x", "max_quizzes": ""}
    page = admin_client.post("/admin/companies/new", {**data, "csrf_token": csrf_token(admin_client)}, status=400)
    assert set(_errors(page)) == {"max_users"}
    assert _company(db, "half-good") is None


def test_every_bad_field_shows_on_the_first_submit_of_an_edit(admin_client, acme, make_company, db):
    make_company(subscription_id="taken")
    form = admin_client.get(f"/admin/companies/{acme.id}/edit").forms["company-form"]
    form["name"], form["subscription_id"], form["max_quizzes"] = "Acme Renamed", "taken", "lots"
    page = form.submit(status=400)
    assert set(_errors(page)) == {"subscription_id", "max_quizzes"}
    # The heading still names the company as it is stored; nothing changed.
    assert page.html.h1.get_text() == "Edit Acme Rockets"
    assert page.forms["company-form"]["name"].value == "Acme Renamed"
    form = page.forms["company-form"]
    form["name"], form["max_quizzes"] = "", "lots"
    page = form.submit(status=400)
    assert set(_errors(page)) == {"name", "subscription_id", "max_quizzes"}
    company = _company(db, "acme")
    assert company is not None and company.name == "Acme Rockets"
    assert "company.update" not in _actions(db, acme.id)


def test_create_without_csrf_token_is_refused(admin_client, db):
    admin_client.post("/admin/companies/new", {"name": "X", "subscription_id": "x-co", "plan": "FREE"}, status=400)
    assert _company(db, "x-co") is None


def test_company_pages_need_platform_admin(testapp, acme, acme_owner, login_as):
    anonymous = testapp.get("/admin/companies", status=302)
    assert "/login" in anonymous.location
    login_as(acme_owner)
    for url in ("/admin/companies", "/admin/companies/new", f"/admin/companies/{acme.id}", "/admin/system-log"):
        testapp.get(url, status=403)
    testapp.post(f"/admin/companies/{acme.id}/deactivate", {"csrf_token": csrf_token(testapp)}, status=403)


def test_unknown_company_is_404(admin_client, acme, acme_owner):
    admin_client.get("/admin/companies/999999", status=404)
    admin_client.get("/admin/companies/999999/edit", status=404)
    huge = "9" * 30  # more than any id column holds
    admin_client.get(f"/admin/companies/{huge}", status=404)
    admin_client.get(f"/admin/companies/{acme.id}/users/{huge}/password", status=404)
    admin_client.get(f"/admin/system-log/{huge}", status=404)
    admin_client.get(f"/api/v1/admin/companies/{huge}", status=404)


def test_edit_changes_plan_and_quotas_follow_it(admin_client, acme, db):
    form = admin_client.get(f"/admin/companies/{acme.id}/edit", status=200).forms["company-form"]
    # STARTER's own quotas show as empty: "the plan's default".
    assert form["max_users"].value == "" and form["max_quizzes"].value == ""
    form["plan"] = "ENTERPRISE"
    form["name"] = "Acme Rockets Inc"
    form.submit(status=303).follow(status=200)
    company = _company(db, "acme")
    assert (company.name, company.plan, company.max_users, company.max_quizzes) == (
        "Acme Rockets Inc",
        "ENTERPRISE",
        PLAN_QUOTAS[Plan.ENTERPRISE]["max_users"],
        PLAN_QUOTAS[Plan.ENTERPRISE]["max_quizzes"],
    )
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "company.update")).one()
    assert entry.company_id == acme.id
    assert entry.changes["plan"] == {"from": "STARTER", "to": "ENTERPRISE"}
    assert entry.changes["max_users"] == {"from": 10, "to": 1000}
    assert entry.changes["name"] == {"from": "Acme Rockets", "to": "Acme Rockets Inc"}


def test_edit_refuses_quota_below_active_users(admin_client, acme, make_user, db):
    for _ in range(3):
        make_user(acme, "AGENT")
    form = admin_client.get(f"/admin/companies/{acme.id}/edit").forms["company-form"]
    form["max_users"] = "2"
    page = form.submit(status=400)
    assert "The company has 3 active users" in page.text
    assert _company(db, "acme").max_users == 10
    assert "company.update" not in _actions(db, acme.id)


def test_edit_to_a_taken_subscription_id_is_refused(admin_client, acme, make_company, db):
    make_company(subscription_id="taken")
    form = admin_client.get(f"/admin/companies/{acme.id}/edit").forms["company-form"]
    form["subscription_id"] = "taken"
    assert "This subscription ID is taken." in form.submit(status=400).text
    assert _company(db, "acme") is not None


def test_deactivate_stops_sign_in_and_ends_sessions(admin_client, acme, acme_owner, another_client, db):
    owner_client = another_client()
    login(owner_client, acme_owner)
    owner_client.get("/dashboard", status=200)
    admin_client.post(f"/admin/companies/{acme.id}/deactivate", {"csrf_token": csrf_token(admin_client)}, status=303)
    assert _company(db, "acme").is_active is False
    assert public_company(db, "acme") is None
    owner_client.get("/dashboard", status=302)  # the session ended at once
    page = login(another_client(), acme_owner, status=400)
    assert "Wrong subscription ID, username or password." in page.text
    assert "company.deactivate" in _actions(db, acme.id)
    page = admin_client.get("/admin/companies", {"status": "inactive"})
    assert "Acme Rockets" in page.text

    admin_client.post(f"/admin/companies/{acme.id}/reactivate", {"csrf_token": csrf_token(admin_client)}, status=303)
    assert _company(db, "acme").is_active is True
    assert public_company(db, "acme").id == acme.id
    login(another_client(), acme_owner)
    assert _actions(db, acme.id)[-2:] == ["company.reactivate", "auth.login"]


def test_platform_company_cannot_be_deactivated(admin_client, platform, db):
    page = admin_client.post(
        f"/admin/companies/{platform.id}/deactivate", {"csrf_token": csrf_token(admin_client)}, status=303
    ).follow()
    assert "The platform company cannot be deactivated." in page.text
    assert _company(db, "platform").is_active is True


def test_deactivated_company_public_quiz_answers_404(admin_client, acme, db, another_client):
    from orbitflow_plugins.quiz import services as quizzes

    acme.privacy_policy_url = "https://example.com/privacy"
    quiz = quizzes.create_quiz(db, acme, {"title": "Pick a rocket", "slug": "pick"}, actor_id=None)
    quizzes.replace_definition(db, acme, quiz, [{"kind": "text", "text": "Where to?", "required": True}], [])
    quizzes.publish(db, acme, quiz)
    db.commit()
    visitor = another_client()
    visitor.get("/q/acme/pick", status=200)
    admin_client.post(f"/admin/companies/{acme.id}/deactivate", {"csrf_token": csrf_token(admin_client)}, status=303)
    visitor.get("/q/acme/pick", status=404)
    admin_client.post(f"/admin/companies/{acme.id}/reactivate", {"csrf_token": csrf_token(admin_client)}, status=303)
    visitor.get("/q/acme/pick", status=200)
