"""An e-mail address that is not one gets the same words on every form and in the API:
what to type ("Enter an e-mail address like name@example.com") and, for the usual slips,
what is wrong; never the validating library's text. Nothing is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from orbitflow.accounts.models import User
from orbitflow.email_address import AddressError, checked_address
from orbitflow.leads.models import Lead
from orbitflow.security import SUPER_ADMIN

LIKE = "Enter an e-mail address like name@example.com"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("ada.example.com", f"{LIKE} (this one has no @)."),
        ("ada @example.com", f"{LIKE} (without spaces)."),
        ("ada@@example.com", f"{LIKE} (with one @)."),
        ("@example.com", f"{LIKE} (with a name before the @)."),
        ("ada@example", f"{LIKE} (with a domain after the @, such as example.com)."),
        ("ada@exa_mple.com", f"{LIKE}."),
        ("a" * 250 + "@example.com", "Use at most 254 characters for the e-mail address."),
    ],
)
def test_a_bad_address_is_told_what_to_type(typed, message):
    with pytest.raises(AddressError) as refused:
        checked_address(typed)
    assert str(refused.value) == message
    assert "@-sign" not in str(refused.value)


def test_a_good_address_is_normalised_and_empty_is_none():
    assert checked_address("  Ada@Example.COM ") == "Ada@example.com"
    assert checked_address("   ") is None and checked_address(None) is None


def _count(db, model, *criteria) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model).where(*criteria))


BAD = "ada.example.com"
SAID = f"{LIKE} (this one has no @)."


@pytest.fixture
def owner(make_company, make_user, login_as):
    company = make_company(name="Addresses Ltd")
    user = make_user(company, "OWNER", username="olga", email="olga@example.com")
    login_as(user)
    return user


def test_settings_users_form(testapp, db, owner):
    form = testapp.get("/settings/users/new").forms["user-form"]
    form["username"], form["email"], form["password"] = "dana", BAD, "Launch-Pad-2031"
    page = form.submit(status=400)
    assert SAID in page.text and _count(db, User, User.username == "dana") == 0


def test_invitation_form(testapp, db, owner):
    form = testapp.get("/settings/users/invite").forms["invite-form"]
    form["username"], form["email"] = "ivan", BAD
    page = form.submit(status=400)
    assert SAID in page.text and _count(db, User, User.username == "ivan") == 0


def test_profile_form(testapp, db, owner):
    form = testapp.get("/settings/profile").forms["profile-form"]
    form["email"] = BAD
    page = form.submit(status=400)
    assert SAID in page.text
    assert db.scalar(select(User.email).where(User.id == owner.id).execution_options(populate_existing=True)) == (
        "olga@example.com"
    )


def test_new_lead_form(testapp, db, owner):
    form = next(form for form in testapp.get("/leads/new").forms.values() if "name" in form.fields)
    form["name"], form["email"] = "Lena Lead", BAD
    page = form.submit(status=400)
    assert SAID in page.text and _count(db, Lead, Lead.name == "Lena Lead") == 0


def test_api_lead(testapp, db, owner):
    token = testapp.get("/dashboard").html.find("meta", attrs={"name": "csrf-token"})["content"]
    answer = testapp.post_json(
        "/api/v1/leads", {"name": "Api Lead", "email": BAD}, headers={"X-CSRF-Token": token}, status=422
    )
    assert answer.json["error"]["fields"]["email"] == SAID
    assert _count(db, Lead, Lead.name == "Api Lead") == 0


def test_super_admin_user_form(testapp, db, platform, make_company, make_user, login_as):
    company = make_company(name="Newco")
    login_as(make_user(platform, SUPER_ADMIN, username="root"))
    form = testapp.get(f"/admin/companies/{company.id}/users/new").forms["user-form"]
    form["username"], form["email"] = "nina", BAD
    form["password"] = form["confirm_password"] = "Owner-First-2026"
    page = form.submit(status=400)
    assert SAID in page.text and _count(db, User, User.username == "nina") == 0
