"""/api/v1/company/locale: owners and admins read and change the company's country,
currency and time zone through the API, checked and audited as on Settings → Region and
currency. Other roles, a missing CSRF token, impersonation and unknown values change
nothing; another company is untouched."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow.tenants.models import Company
from support import csrf_token
from tenants.localecases import BAD_LOCALE_VALUES

URL = "/api/v1/company/locale"
GERMANY = {"phone_region": "DE", "currency": "EUR", "time_zone": "Europe/Berlin"}


@pytest.fixture
def company(make_company):
    return make_company(name="Locale Co")


@pytest.fixture
def owner(make_user, company):
    return make_user(company, "OWNER", username="oskar")


def _put(client, body, status=200, headers=None):
    headers = headers if headers is not None else {"X-CSRF-Token": csrf_token(client)}
    return client.put_json(URL, body, headers={"Accept": "application/json", **headers}, status=status)


def _updates(db, company_id: int) -> list[AuditEntry]:
    db.expire_all()
    query = select(AuditEntry).where(AuditEntry.action == "company.update", AuditEntry.company_id == company_id)
    return list(db.scalars(query.order_by(AuditEntry.id)))


def _saved(db, company_id: int) -> tuple:
    db.expire_all()
    company = db.get(Company, company_id)
    return company.phone_region, company.currency, company.time_zone


def _raw_key(client, role: str) -> str:
    page = client.post("/settings/api-keys", {"name": "sync", "role": role, "csrf_token": csrf_token(client)})
    return re.search(r"data-raw-key>([^<]+)<", page.text).group(1)


def test_owner_reads_and_sets_the_locale(testapp, login_as, owner, company, db):
    login_as(owner)
    assert testapp.get(URL).json == {"phone_region": None, "currency": "USD", "time_zone": None}
    # Read as the page reads a form: trimmed, codes in any case.
    body = _put(testapp, {"phone_region": " de ", "currency": "eur", "time_zone": "Europe/Berlin"}).json
    assert body == GERMANY
    assert _saved(db, company.id) == ("DE", "EUR", "Europe/Berlin")
    assert testapp.get(URL).json == GERMANY
    assert {key: testapp.get("/api/v1/me").json["company"][key] for key in GERMANY} == GERMANY
    (entry,) = _updates(db, company.id)
    assert entry.actor_id == owner.id and entry.target_type == "company" and entry.target_id == str(company.id)
    assert entry.changes == {
        "currency": {"from": "USD", "to": "EUR"},
        "phone_region": {"from": None, "to": "DE"},
        "time_zone": {"from": None, "to": "Europe/Berlin"},
    }
    # The same again writes nothing; a field left out keeps its value; null is the installation's.
    _put(testapp, GERMANY)
    assert len(_updates(db, company.id)) == 1
    assert _put(testapp, {"time_zone": None}).json == {**GERMANY, "time_zone": None}
    assert _saved(db, company.id) == ("DE", "EUR", None)
    assert _updates(db, company.id)[-1].changes == {"time_zone": {"from": "Europe/Berlin", "to": None}}


def test_an_admin_may_and_other_roles_may_not(testapp, login_as, make_user, company, db, unchanged):
    login_as(make_user(company, "ADMIN"))
    assert _put(testapp, {"currency": "GBP"}).json["currency"] == "GBP"
    for role in ("MANAGER", "AGENT", "VIEWER"):
        login_as(make_user(company, role))
        with unchanged():
            testapp.get(URL, headers={"Accept": "application/json"}, status=403)
            answer = _put(testapp, GERMANY, status=403)
        assert answer.json["error"]["code"] == "forbidden"
    assert _saved(db, company.id) == (None, "GBP", None)


def test_a_put_without_the_csrf_token_is_refused(testapp, login_as, owner, unchanged):
    login_as(owner)
    with unchanged():
        answer = _put(testapp, GERMANY, status=400, headers={})
    assert answer.json["error"]["code"] == "csrf_failed"


def test_api_keys_need_no_csrf_token_and_are_limited_by_their_role(testapp, login_as, owner, company, db):
    browser = login_as(owner)
    admin_key, manager_key = _raw_key(browser, "ADMIN"), _raw_key(browser, "MANAGER")
    robot = testapp.__class__(testapp.app, extra_environ={"HTTP_HOST": "localhost"})
    assert _put(robot, GERMANY, headers={"Authorization": f"Bearer {admin_key}"}).json == GERMANY
    (entry,) = _updates(db, company.id)
    assert entry.actor_id == owner.id and entry.actor_name.startswith("api-key:sync #")
    _put(robot, {"currency": "GBP"}, status=403, headers={"Authorization": f"Bearer {manager_key}"})
    robot.get(URL, headers={"Authorization": f"Bearer {manager_key}"}, status=403)
    assert _saved(db, company.id) == ("DE", "EUR", "Europe/Berlin")


@BAD_LOCALE_VALUES
def test_unknown_values_are_refused_by_field_with_the_pages_messages(
    field, value, message, testapp, login_as, owner, company, db, unchanged
):
    login_as(owner)
    with unchanged():
        answer = _put(testapp, {**GERMANY, field: value}, status=422)
    error = answer.json["error"]
    assert error["code"] == "invalid" and set(error["fields"]) == {field}
    assert error["fields"][field].startswith(message)
    # The page says the same.
    page = testapp.post("/settings/region", {**GERMANY, field: value, "csrf_token": csrf_token(testapp)}, status=400)
    assert error["fields"][field] in page.html.select_one(f"#e-{field}").text
    assert _saved(db, company.id) == (None, "USD", None)


@pytest.mark.parametrize("body", [{"colour": "red"}, {"currency": 978}, {"phone_region": ["DE"]}])
def test_other_names_and_types_are_refused(body, testapp, login_as, owner, unchanged):
    login_as(owner)
    with unchanged():
        answer = _put(testapp, body, status=422)
    assert set(answer.json["error"]["fields"]) == set(body)


def test_impersonation_is_read_only(testapp, login_as, owner, company, make_user, platform, db, unchanged):
    login_as(make_user(platform, "SUPER_ADMIN", username="root"))
    token = csrf_token(testapp)
    testapp.post(f"/admin/companies/{company.id}/users/{owner.id}/impersonate", {"csrf_token": token}, status=303)
    # As on the settings page, which impersonation cannot open either.
    testapp.get("/settings/region", status=403)
    with unchanged():
        assert "Read-only while impersonating" in testapp.get(URL, status=403).json["error"]["message"]
        answer = _put(testapp, GERMANY, status=403)
    assert "Read-only while impersonating" in answer.json["error"]["message"]


def test_each_company_sees_and_changes_only_its_own(testapp, login_as, owner, company, make_company, make_user, db):
    other = make_company(name="Other Co", currency="GBP", phone_region="GB", time_zone="Europe/London")
    login_as(owner)
    _put(testapp, GERMANY)
    assert _saved(db, other.id) == ("GB", "GBP", "Europe/London")
    assert _updates(db, other.id) == []
    login_as(make_user(other, "OWNER"))
    assert testapp.get(URL).json == {"phone_region": "GB", "currency": "GBP", "time_zone": "Europe/London"}
    _put(testapp, {"currency": "CHF"})
    assert _saved(db, company.id) == ("DE", "EUR", "Europe/Berlin")


def test_the_document_describes_it(testapp):
    document = testapp.get("/api/v1/openapi.json").json
    operations = document["paths"][URL]
    assert set(operations) == {"get", "put"}
    schema = document["components"]["schemas"]["CompanyLocaleInput"]
    assert set(schema["properties"]) == set(GERMANY) and schema["additionalProperties"] is False
