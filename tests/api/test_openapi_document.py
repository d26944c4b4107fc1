"""The OpenAPI document: a valid OpenAPI 3 document that covers every /api/v1 operation."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from pyramid.interfaces import IRoutesMapper

from orbitflow.accounts.models import User
from orbitflow.api.openapi import NO_NUL, build_spec, with_path_parameters
from orbitflow.leads.models import Lead, Stage
from orbitflow.security import COMPANY_ROLES
from orbitflow.tenants.models import Company, Plan
from orbitflow.webhooks.models import Webhook
from support import csrf_token

PLACEHOLDER = re.compile(r"\{(\w+):[^}]*\}")


def api_operations(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every view on a /api/v1 route of the running app."""
    registry = app.registry
    mapper = registry.queryUtility(IRoutesMapper)
    found: set[tuple[str, str]] = set()
    for view in registry.introspector.get_category("views") or ():
        intr = view["introspectable"]
        route = mapper.get_route(intr["route_name"]) if intr["route_name"] else None
        if route is None or not route.pattern.startswith("/api/v1/"):
            continue
        path = PLACEHOLDER.sub(r"{\1}", route.pattern)
        methods = intr["request_methods"]
        methods = (methods,) if isinstance(methods, str) else (methods or ("GET", "POST", "PUT", "PATCH", "DELETE"))
        found.update((path, method.lower()) for method in methods if method != "HEAD")
    return found


def test_document_is_valid_openapi(testapp):
    document = testapp.get("/api/v1/openapi.json", status=200).json
    validate(document)
    assert document["openapi"].startswith("3.")
    assert {"bearerAuth", "cookieAuth"} <= set(document["components"]["securitySchemes"])


def test_every_api_route_and_method_is_documented(testapp, wsgi_app):
    document = testapp.get("/api/v1/openapi.json").json
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    missing = api_operations(wsgi_app) - documented
    assert not missing, f"undocumented API operations: {sorted(missing)}"
    # ...and the document describes nothing the app does not serve.
    assert documented <= api_operations(wsgi_app)


def test_admin_and_audit_operations_are_described(testapp):
    paths = testapp.get("/api/v1/openapi.json").json["paths"]
    assert set(paths["/api/v1/admin/companies"]) == {"get", "post"}
    assert set(paths["/api/v1/admin/companies/{id}"]) == {"get", "patch", "delete"}
    assert set(paths["/api/v1/admin/companies/{id}/users"]) == {"get", "post"}
    create = paths["/api/v1/admin/companies"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CompanyInput"
    }
    assert {"201", "401", "403", "409", "422"} <= set(create["responses"])
    listing = paths["/api/v1/audit"]["get"]
    assert {"actor", "action", "target_type", "target_id", "since", "until", "page", "per_page"} <= {
        parameter["name"] for parameter in listing["parameters"]
    }


def test_path_parameters_are_declared_even_when_an_operation_forgets():
    # OpenAPI requires every {placeholder} of a path to be declared; the builder adds
    # those an operation leaves out and keeps those it declares.
    declared = {"name": "quiz_id", "in": "path", "required": True, "schema": {"type": "integer"}, "description": "x"}
    parameters = with_path_parameters("/api/v1/quizzes/{quiz_id}/pages/{slug}", [declared])
    assert parameters == [
        declared,
        {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}},
    ]
    document = build_spec({"api_admin_company"})
    validate(document)


# (request schema, property, model column): the document's maxLength is the column's length.
COLUMN_LENGTHS = [
    ("LeadInput", "name", Lead.__table__.c.name),
    ("LeadInput", "email", Lead.__table__.c.email),
    ("LeadInput", "phone", Lead.__table__.c.phone),
    ("LeadInput", "company_name", Lead.__table__.c.company_name),
    ("LeadInput", "referrer", Lead.__table__.c.referrer),
    ("LeadPatch", "name", Lead.__table__.c.name),
    ("StageInput", "name", Stage.__table__.c.name),
    ("StagePatch", "name", Stage.__table__.c.name),
    ("UserInput", "username", User.__table__.c.username),
    ("UserInput", "name", User.__table__.c.name),
    ("UserInput", "email", User.__table__.c.email),
    ("UserPatch", "name", User.__table__.c.name),
    ("CompanyInput", "name", Company.__table__.c.name),
    ("CompanyInput", "subscription_id", Company.__table__.c.subscription_id),
    ("WebhookInput", "url", Webhook.__table__.c.url),
    ("WebhookInput", "description", Webhook.__table__.c.description),
]


@pytest.mark.parametrize(("schema", "field", "column"), COLUMN_LENGTHS)
def test_request_lengths_are_the_columns_lengths(testapp, schema, field, column):
    schemas = testapp.get("/api/v1/openapi.json").json["components"]["schemas"]
    assert schemas[schema]["properties"][field]["maxLength"] == column.type.length


def test_the_document_states_what_the_api_enforces(testapp):
    document = testapp.get("/api/v1/openapi.json").json
    schemas = document["components"]["schemas"]
    assert schemas["LeadInput"]["required"] == ["name"]
    assert schemas["LeadPatch"]["required"] == ["version"]
    assert set(schemas["LeadMove"]["required"]) == {"stage_id", "version"}
    assert schemas["LeadMove"]["properties"]["stage_id"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    assert schemas["LeadMove"]["properties"]["position"]["minimum"] == 0
    assert schemas["LeadInput"]["properties"]["value"]["minimum"] == 0
    assert schemas["LeadInput"]["properties"]["phone_region"]["type"] == "string"
    assert schemas["UserInput"]["properties"]["email"]["format"] == "email"
    assert schemas["UserInput"]["properties"]["password"]["minLength"] == 10
    assert schemas["UserInput"]["properties"]["role"]["enum"] == list(COMPANY_ROLES)
    assert schemas["CompanyInput"]["properties"]["plan"]["enum"] == [plan.value for plan in Plan]
    assert schemas["Lead"]["properties"]["created_at"]["format"] == "date-time"
    # Free text never holds NUL characters; the pattern says so on every such string.
    assert schemas["LeadInput"]["properties"]["name"]["pattern"] == NO_NUL
    deactivate = document["paths"]["/api/v1/users/{id}"]["delete"]
    assert deactivate["summary"].startswith("Deactivate a user")
    assert deactivate["responses"]["204"]["description"] == "Deactivated"
    listing = {p["name"]: p["schema"] for p in document["paths"]["/api/v1/leads"]["get"]["parameters"]}
    assert (listing["page"]["minimum"], listing["page"]["maximum"]) == (1, 1_000_000)
    assert (listing["per_page"]["minimum"], listing["per_page"]["maximum"]) == (1, 100)


def test_delete_user_deactivates_as_documented(testapp, db, make_company, make_user, login_as):
    company = make_company(name="Deactivate Co")
    login_as(make_user(company, "OWNER"))
    agent = make_user(company, "AGENT", username="agent")
    testapp.delete(f"/api/v1/users/{agent.id}", headers={"X-CSRF-Token": csrf_token(testapp)}, status=204)
    db.expire_all()
    kept = db.get(User, agent.id)
    assert kept is not None and kept.is_active is False
