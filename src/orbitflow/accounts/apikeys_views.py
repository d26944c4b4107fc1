"""Settings → API keys: owners and admins create, see and revoke the company's keys."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config

from orbitflow.accounts.apikeys import acting_role, create_key, grantable_roles, list_keys, revoke_key
from orbitflow.accounts.models import ApiKey
from orbitflow.accounts.users import AccountError
from orbitflow.web.inputs import path_id
from orbitflow.web.layout import flash

TEMPLATE = "orbitflow:accounts/templates/apikeys.jinja2"


def _context(request: Request, form: dict | None = None, errors: dict | None = None, error: str | None = None):
    return {
        "keys": list_keys(request.dbsession),
        "roles": grantable_roles(request.identity.role),
        "form": form or {"name": "", "role": "VIEWER"},
        "errors": errors or {},
        "error": error,
        "created": None,
        "acting_role": acting_role,
    }


@view_config(route_name="apikeys", request_method="GET", renderer=TEMPLATE, permission="apikeys.manage")
def apikeys_page(request: Request):
    return _context(request)


@view_config(route_name="apikeys", request_method="POST", renderer=TEMPLATE, permission="apikeys.manage")
def apikey_create(request: Request):
    form = {"name": request.POST.get("name", ""), "role": request.POST.get("role", "")}
    try:
        key, raw = create_key(request, name=form["name"], role=form["role"])
    except AccountError as error:
        request.response.status_int = 400
        return _context(request, form, error.fields, error.message)
    # Shown on this response only; it is stored as a hash. Keep it out of caches.
    request.response.status_int = 201
    request.response.cache_control = "no-store"
    return {**_context(request), "created": {"key": key, "raw": raw}}


@view_config(route_name="apikey_revoke", request_method="POST", permission="apikeys.manage")
def apikey_revoke(request: Request):
    key = request.dbsession.get(ApiKey, path_id(request))
    if key is None:
        raise HTTPNotFound("No such API key.")
    if revoke_key(request, key):
        flash(request, f"API key “{key.name}” revoked: requests with it are refused from now on.")
    return HTTPSeeOther(request.route_url("apikeys"))


def includeme(config) -> None:
    config.add_route("apikeys", "/settings/api-keys")
    config.add_route("apikey_revoke", r"/settings/api-keys/{id:\d+}/revoke")
    config.scan(__name__)
