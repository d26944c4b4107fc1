"""JSON request bodies are checked against their operation's schema in the OpenAPI document.

The document (:mod:`orbitflow.api.openapi`) is the one rule book: every view whose
operation declares a JSON ``requestBody`` has its body validated by a view deriver before
the view runs, after the permission and CSRF checks. So what the document says about a
field — its JSON type, required, minimum and maximum, length, enum, format — is exactly
what the API enforces, and a body that breaks it is answered 422 with a message for every
bad field, before anything is read or written. Views read the checked body with
:func:`orbitflow.api.helpers.json_body`.

The document is OpenAPI 3.0, whose schemas are JSON Schema draft 4 plus ``nullable``;
``jsonschema`` validates them once ``nullable`` is spelled as a ``"null"`` type. Types are
strict: an integer is a JSON integer (``7.9`` and ``7.0`` are not), a number is finite,
and ``true`` is not a number.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

from jsonschema import Draft4Validator, FormatChecker, ValidationError, validators
from pyramid.request import Request
from referencing import Registry
from referencing.jsonschema import DRAFT4

from orbitflow import email_address
from orbitflow.api.helpers import BODY_ENVIRON_KEY, parse_json_body
from orbitflow.api.openapi import NO_NUL, api_document, is_documented, operation_of
from orbitflow.shared import provide, provided
from orbitflow.web.errors import APIError
from orbitflow.web.inputs import whole_number

JSON = "application/json"
DOCUMENT_URI = "urn:orbitflow:openapi"


def _is_integer(checker, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_number(checker, instance: Any) -> bool:
    if isinstance(instance, bool):
        return False
    if isinstance(instance, int):
        return True
    return isinstance(instance, float) and math.isfinite(instance)


StrictValidator = validators.extend(
    Draft4Validator,
    type_checker=Draft4Validator.TYPE_CHECKER.redefine_many({"integer": _is_integer, "number": _is_number}),
)


def _format_checker() -> FormatChecker:
    """draft 4's formats, with email checked as the services check it (email-validator)."""
    checker = FormatChecker()

    @checker.checks("email")
    def is_email(instance: object) -> bool:
        return not isinstance(instance, str) or email_address.is_address(instance)

    return checker


FORMATS = _format_checker()


def json_schema_of(node: Any) -> Any:
    """A copy of an OpenAPI 3.0 schema tree with ``nullable: true`` as a ``"null"`` type."""
    if isinstance(node, list):
        return [json_schema_of(item) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {key: json_schema_of(value) for key, value in node.items()}
    if schema.pop("nullable", False):
        kind = schema.get("type")
        if isinstance(kind, str):
            schema["type"] = [kind, "null"]
        if isinstance(schema.get("enum"), list):
            schema["enum"] = [*schema["enum"], None]
    return schema


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


class BodyRules:
    """A validator for the JSON body of each documented operation, made on first use."""

    def __init__(self, document: dict[str, Any]):
        self.document = json_schema_of(copy.deepcopy(document))
        resource = DRAFT4.create_resource(self.document)
        self.registry = Registry().with_resource(DOCUMENT_URI, resource)
        self.validators: dict[tuple[str, str], Draft4Validator | None] = {}
        self.queries: dict[tuple[str, str], list[QueryRule]] = {}

    def query_rules(self, route_name: str, method: str) -> list[QueryRule]:
        key = (route_name, method.lower())
        if key not in self.queries:
            operation = operation_of(*key)
            found = self.document.get("paths", {}).get(operation.path, {}).get(key[1], {}) if operation else {}
            self.queries[key] = [
                QueryRule(param["name"], param.get("schema", {}), bool(param.get("required")))
                for param in found.get("parameters", [])
                if param.get("in") == "query"
            ]
        return self.queries[key]

    def validator(self, route_name: str, method: str) -> Draft4Validator | None:
        key = (route_name, method.lower())
        if key not in self.validators:
            self.validators[key] = self._make(*key)
        return self.validators[key]

    def _make(self, route_name: str, method: str) -> Draft4Validator | None:
        operation = operation_of(route_name, method)
        if operation is None:
            return None
        body = self.document.get("paths", {}).get(operation.path, {}).get(method, {}).get("requestBody")
        if not body or JSON not in body.get("content", {}):
            return None
        pointer = _pointer("paths", operation.path, method, "requestBody", "content", JSON, "schema")
        return StrictValidator({"$ref": f"{DOCUMENT_URI}#/{pointer}"}, registry=self.registry, format_checker=FORMATS)


class QueryRule:
    """One documented query parameter: its text is read as the schema's type, then checked."""

    def __init__(self, name: str, schema: dict[str, Any], required: bool):
        self.name = name
        self.schema = schema
        self.required = required
        self.validator = StrictValidator(schema, format_checker=FORMATS)

    def problem(self, values: list[str]) -> str | None:
        if not values:
            return "Required." if self.required else None
        if len(values) > 1:
            return "Give it once."
        value, problem = _typed(values[0], self.schema.get("type"))
        if problem:
            return problem
        for error in self.validator.iter_errors(value):
            return _MESSAGES.get(str(error.validator), lambda e: e.message)(error)
        return None


_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def _typed(raw: str, kind: Any) -> tuple[Any, str | None]:
    """A query string value as the JSON value its schema's type means."""
    kinds = [kind] if isinstance(kind, str) else list(kind or ["string"])
    if "integer" in kinds:
        number = whole_number(raw)
        return (number, None) if number is not None else (None, "Use a whole number.")
    if "boolean" in kinds:
        flag = _BOOLEANS.get(raw.lower())
        return (flag, None) if flag is not None else (None, "Use true or false.")
    if "number" in kinds:
        try:
            number = float(raw)
        except ValueError:
            return None, "Use a number."
        return (number, None) if math.isfinite(number) else (None, "Use a number.")
    return raw, None


def check_query(request: Request, route_name: str) -> None:
    """400 unless every documented query parameter of the operation follows its schema."""
    rules = body_rules(request.registry).query_rules(route_name, request.method)
    errors = {}
    for rule in rules:
        problem = rule.problem(request.GET.getall(rule.name))
        if problem:
            errors[rule.name] = problem
    if errors:
        # Query strings are typed by hand more often than bodies: say what each one needs.
        details = " ".join(f"{name}: {problem}" for name, problem in errors.items())
        raise APIError(400, f"Check these parameters: {', '.join(errors)}. {details}", errors)


def body_rules(registry) -> BodyRules:
    rules = provided(registry, BodyRules)
    if rules is None:
        rules = provide(registry, BodyRules(api_document(registry)))
    return rules


# -- messages -----------------------------------------------------------------------------

_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}


def _type_message(expected: Any) -> str:
    kinds = [expected] if isinstance(expected, str) else list(expected)
    return "Use " + " or ".join(_TYPE_WORDS.get(kind, kind) for kind in kinds) + "."


def _range_message(schema: dict[str, Any]) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f"Use a number from {low} to {high}."
    return f"Use {low} or more." if low is not None else f"Use {high} or less."


def _pattern_message(error: ValidationError) -> str:
    if error.validator_value == NO_NUL:
        return "Must not contain NUL characters."
    example = error.schema.get("example")
    return f"Use the form {example}." if example else f"Use the form {error.validator_value}."


def _format_message(name: str, instance: object) -> str:
    if name == "email" and isinstance(instance, str):
        return email_address.problem(instance)
    return {
        "date": "Use a calendar date written YYYY-MM-DD.",
        "date-time": "Use an ISO 8601 date and time.",
    }.get(name, f"Use a valid {name}.")


_MESSAGES: dict[str, Callable[[ValidationError], str]] = {
    "type": lambda e: _type_message(e.validator_value),
    "required": lambda e: "Required.",
    "additionalProperties": lambda e: "Unknown field.",
    "maxLength": lambda e: f"Use at most {e.validator_value} characters.",
    "minLength": lambda e: (
        "Must not be empty." if e.validator_value == 1 else f"Use at least {e.validator_value} characters."
    ),
    "minimum": lambda e: _range_message(e.schema),
    "maximum": lambda e: _range_message(e.schema),
    "enum": lambda e: "Choose one of: " + ", ".join(str(v) for v in e.validator_value if v is not None) + ".",
    "pattern": lambda e: _pattern_message(e),
    "format": lambda e: _format_message(e.validator_value, e.instance),
    "minItems": lambda e: f"Use at least {e.validator_value} items.",
    "maxItems": lambda e: f"Use at most {e.validator_value} items.",
    "uniqueItems": lambda e: "Do not repeat items.",
}


def _fields_of(error: ValidationError) -> list[str]:
    """The dotted names (``utm.source``, ``questions.0.text``) an error is about."""
    base = [str(part) for part in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        names = [name for name in error.validator_value if name not in error.instance]
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        names = sorted(set(error.instance) - set(error.schema.get("properties", {})))
    else:
        return [".".join(base) or "body"]
    return [".".join([*base, name]) for name in names]


def field_errors(validator: Draft4Validator, body: Any) -> dict[str, str]:
    """Every bad field of ``body`` with one message each (the first found for a field)."""
    errors: dict[str, str] = {}
    for error in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path))):
        message = _MESSAGES.get(str(error.validator), lambda e: e.message)(error)
        for name in _fields_of(error):
            errors.setdefault(name, message)
    return errors


def check_body(request: Request, route_name: str) -> None:
    """422 unless the request's JSON body follows its operation's schema."""
    validator = body_rules(request.registry).validator(route_name, request.method)
    if validator is None:
        return
    body = parse_json_body(request)
    errors = field_errors(validator, body)
    if errors:
        raise APIError(422, "Check these fields: " + ", ".join(errors) + ".", errors)
    request.environ[BODY_ENVIRON_KEY] = body


def validated_body_view(view, info):
    """View deriver: check the query and body of views on documented routes before they run."""
    route_name = info.options.get("route_name")
    if route_name is None or info.exception_only or not is_documented(route_name):
        return view

    def checked(context, request):
        check_query(request, route_name)
        check_body(request, route_name)
        return view(context, request)

    return checked


def includeme(config) -> None:
    config.add_view_deriver(validated_body_view, name="validated_body")
