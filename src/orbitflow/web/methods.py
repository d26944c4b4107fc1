"""405 Method Not Allowed, with an ``Allow`` header, for a method a route does not take.

Pyramid answers a request whose route matches but whose method no view accepts as "not
found"; a client then cannot tell a wrong method from a wrong address, and a view without
a method predicate would serve TRACE like GET. Two places answer 405 instead:

- once the route is found, any method outside the ordinary ones (TRACE, CONNECT,
  OPTIONS, PROPFIND, made-up ones) is refused on every route before a view can see it;
- the not-found view turns a method mismatch on a matched route into 405
  (:func:`method_not_allowed`).

The ``Allow`` header lists the methods of the route's views, read once from the
introspector.
"""

from __future__ import annotations

from pyramid.events import ContextFound
from pyramid.httpexceptions import HTTPMethodNotAllowed
from pyramid.request import Request

from orbitflow.shared import provide, provided

# A view without a method predicate takes these (and only these).
ORDINARY_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})


class RouteMethods(dict[str, frozenset[str]]):
    """The methods each route's views accept, by route name."""


def route_methods(registry) -> RouteMethods:
    found = provided(registry, RouteMethods)
    if found is not None:
        return found
    methods: dict[str, set[str]] = {}
    for item in registry.introspector.get_category("views") or ():
        view = item["introspectable"]
        route_name = view["route_name"]
        if not route_name:
            continue
        accepted = view["request_methods"]
        if accepted is None:
            accepted = ORDINARY_METHODS
        elif isinstance(accepted, str):
            accepted = {accepted}
        accepted = set(accepted)
        if "GET" in accepted:
            accepted.add("HEAD")  # Pyramid serves HEAD with the GET view
        methods.setdefault(route_name, set()).update(accepted)
    return provide(registry, RouteMethods({name: frozenset(found) for name, found in methods.items()}))


def allowed_methods(request: Request, route_name: str) -> frozenset[str]:
    return route_methods(request.registry).get(route_name, frozenset())


def method_not_allowed(request: Request, route_name: str) -> HTTPMethodNotAllowed | None:
    """The 405 for this request's method on ``route_name``, or None when the route takes it."""
    allowed = allowed_methods(request, route_name)
    if request.method in allowed:
        return None
    return HTTPMethodNotAllowed(
        f"{request.method} is not allowed here; use {', '.join(sorted(allowed))}.",
        headers={"Allow": ", ".join(sorted(allowed))},
    )


def refuse_unusual_methods(event: ContextFound) -> None:
    """ContextFound subscriber: once the route is known, a method beyond the ordinary ones
    gets 405 there, before any view (or a view that takes any method) sees it."""
    request = event.request
    if request.method in ORDINARY_METHODS or request.matched_route is None:
        return
    refusal = method_not_allowed(request, request.matched_route.name)
    if refusal is not None:
        raise refusal
