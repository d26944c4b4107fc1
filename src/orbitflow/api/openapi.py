"""The OpenAPI document at /api/v1/openapi.json, built with apispec.

API views describe themselves with :func:`api_operation`; schemas are registered with
:func:`api_schema`. Only operations whose route exists in this app (core or enabled
plugin) appear in the document.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apispec import APISpec
from pyramid.interfaces import IRoutesMapper
from pyramid.request import Request
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from orbitflow import __version__
from orbitflow.api.helpers import MAX_PER_PAGE
from orbitflow.shared import provide, provided
from orbitflow.web.inputs import MAX_ID, MAX_INT32, MAX_PAGE

# Integer bounds of the columns (ids are BIGINT, counts and positions INT) and of paging.
MAX_INT = MAX_INT32
# No text the API takes or gives holds a NUL character (build_spec states it on every
# free-text string; orbitflow.api.validation enforces it with the rest of the document).
NO_NUL = r"^[^\u0000]*$"


def id_schema(**extra: Any) -> dict[str, Any]:
    """A row id: ids beyond the column's range are refused, as no row can have them."""
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID, **extra}


def int_schema(minimum: int = 0, maximum: int = MAX_INT, **extra: Any) -> dict[str, Any]:
    """A whole number stored in an INT column."""
    return {"type": "integer", "minimum": minimum, "maximum": maximum, **extra}


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}


@dataclass(frozen=True)
class Operation:
    route_name: str
    path: str
    method: str
    spec: dict[str, Any] = field(default_factory=dict)


_SCHEMAS: dict[str, dict[str, Any]] = {"Error": ERROR_SCHEMA}
_OPERATIONS: list[Operation] = []


def api_schema(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Register a JSON schema component; returns a ``$ref`` to it."""
    _SCHEMAS[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def list_of(name: str) -> dict[str, Any]:
    """The paged list shape: items, total, page, per_page."""
    return {
        "type": "object",
        "required": ["items", "total", "page", "per_page"],
        "properties": {
            "items": {"type": "array", "items": ref(name)},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
        },
    }


def api_operation(route_name: str, path: str, method: str, **spec: Any) -> Callable:
    """Describe a view for the OpenAPI document; ``spec`` is an OpenAPI operation object."""

    def decorate(view: Callable) -> Callable:
        _OPERATIONS.append(Operation(route_name, path, method.lower(), spec))
        return view

    return decorate


def with_path_parameters(path: str, parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Declare every ``{name}`` of the path (OpenAPI requires it); ids are integers."""
    declared = {param.get("name") for param in parameters if param.get("in") == "path"}
    added = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer"} if name == "id" or name.endswith("_id") else {"type": "string"},
        }
        for name in re.findall(r"\{(\w+)\}", path)
        if name not in declared
    ]
    return [*parameters, *added]


class OpenAPIDocument(dict[str, Any]):
    """The OpenAPI document of the routes this application has, built on first use."""


def api_document(registry) -> OpenAPIDocument:
    """This application's document (the routes of the core and of the enabled plugins)."""
    document = provided(registry, OpenAPIDocument)
    if document is None:
        mapper = registry.queryUtility(IRoutesMapper)
        names = {route.name for route in mapper.get_routes()}
        document = provide(registry, OpenAPIDocument(build_spec(names)))
    return document


def operation_of(route_name: str, method: str) -> Operation | None:
    """The documented operation of a view's route and request method."""
    method = method.lower()
    for operation in _OPERATIONS:
        if operation.route_name == route_name and operation.method == method:
            return operation
    return None


def is_documented(route_name: str) -> bool:
    """Does the document describe an operation of this route?"""
    return any(operation.route_name == route_name for operation in _OPERATIONS)


def _is_free_text(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    is_string = kind == "string" or (isinstance(kind, list) and "string" in kind)
    return is_string and not ({"pattern", "enum", "format"} & set(schema))


def state_paging_rules(parameters: list[dict[str, Any]]) -> None:
    """Every list pages through :func:`orbitflow.api.helpers.paginate`'s bounds: say them."""
    for parameter in parameters:
        if parameter.get("in") == "query" and parameter.get("name") in ("page", "per_page"):
            schema = parameter.setdefault("schema", {"type": "integer"})
            schema.setdefault("minimum", 1)
            schema.setdefault("maximum", MAX_PAGE if parameter["name"] == "page" else MAX_PER_PAGE)


def state_text_rules(node: Any) -> Any:
    """Add the no-NUL pattern to every free-text string schema under ``node`` (in place)."""
    if isinstance(node, dict):
        if _is_free_text(node):
            node["pattern"] = NO_NUL
        for value in node.values():
            state_text_rules(value)
    elif isinstance(node, list):
        for value in node:
            state_text_rules(value)
    return node


def build_spec(route_names: set[str]) -> dict[str, Any]:
    spec = APISpec(
        title="OrbitFlow API",
        version=__version__,
        openapi_version="3.0.3",
        info={"description": 'JSON API of OrbitFlow CRM. Errors are {"error": {"code", "message", "fields"?}}.'},
        components={
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from Settings → API keys",
                },
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "orbitflow_session"},
            }
        },
        security=[{"bearerAuth": []}, {"cookieAuth": []}],
    )
    for name, schema in sorted(_SCHEMAS.items()):
        spec.components.schema(name, schema)
    by_path: dict[str, dict[str, Any]] = {}
    for operation in _OPERATIONS:
        if operation.route_name not in route_names:
            continue
        body = dict(operation.spec)
        parameters = with_path_parameters(operation.path, body.get("parameters", []))
        if parameters:
            body["parameters"] = parameters
        responses = body.setdefault("responses", {})
        responses.setdefault(
            "default", {"description": "Error", "content": {"application/json": {"schema": ref("Error")}}}
        )
        by_path.setdefault(operation.path, {})[operation.method] = body
    for path in sorted(by_path):
        spec.path(path=path, operations=by_path[path])
    document = copy.deepcopy(spec.to_dict())  # the rules below must not touch the registered schemas
    state_text_rules(document.get("components", {}).get("schemas", {}))
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            state_text_rules(operation.get("requestBody"))
            state_text_rules(operation.get("responses"))
            state_paging_rules(operation.get("parameters", []))
    return document


@api_operation(
    "api_openapi",
    "/api/v1/openapi.json",
    "get",
    summary="This OpenAPI document",
    tags=["meta"],
    security=[],
    responses={"200": {"description": "The OpenAPI 3 document of the API", "content": {"application/json": {}}}},
)
@view_config(route_name="api_openapi", request_method="GET", renderer="json", permission=NO_PERMISSION_REQUIRED)
def openapi_document(request: Request):
    return api_document(request.registry)


def includeme(config) -> None:
    config.add_route("api_openapi", "/api/v1/openapi.json")
    config.scan(__name__)
