"""The OpenAPI document: a valid OpenAPI 3 document that covers every /api/v1 operation."""

from __future__ import annotations

import re

from openapi_spec_validator import validate
from pyramid.interfaces import IRoutesMapper

from orbitflow.api.openapi import build_spec, with_path_parameters

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
