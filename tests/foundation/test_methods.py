"""A method a route does not take answers 405 with an Allow header, on every route.

TRACE and other methods beyond the ordinary ones once reached views that take any method
(pages answered TRACE like GET) or answered 404; a wrong ordinary method answered 404.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accounts.routewalk import View, path, routed_views
from orbitflow.syslog.models import SystemLogEntry

STATIC_PATH = "/static/css/app.css"


def _route_paths(wsgi_app) -> dict[str, tuple[str, set[str]]]:
    """route name -> (a path of it, the methods its views declare; empty: any)."""
    found: dict[str, tuple[str, set[str]]] = {}
    views: dict[str, list[View]] = {}
    for view in routed_views(wsgi_app.registry):
        views.setdefault(view.route_name, []).append(view)
    for name, group in views.items():
        url = STATIC_PATH if group[0].is_static else path(wsgi_app.registry, group[0])
        methods: set[str] = set()
        if all(view.methods for view in group):
            methods = {method for view in group for method in view.methods}
        found[name] = (url, methods)
    return found


@pytest.fixture
def clients(testapp, another_client, make_company, make_user, login_as):
    company = make_company(name="Methods Co")
    return {"anonymous": another_client(), "owner": login_as(make_user(company, "OWNER"))}


def _system_log_rows(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(SystemLogEntry))


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS"])
def test_methods_beyond_the_ordinary_ones_answer_405_on_every_route(wsgi_app, db, clients, method):
    routes = _route_paths(wsgi_app)
    assert len(routes) > 50
    wrong = []
    for who, client in clients.items():
        for name, (url, declared) in sorted(routes.items()):
            answer = client.request(url, method=method, status="*")
            allow = {part.strip() for part in answer.headers.get("Allow", "").split(",") if part.strip()}
            if answer.status_int != 405 or not allow or method in allow or (declared and not declared <= allow):
                wrong.append(f"{who} {method} {url} ({name}): {answer.status_int}, Allow {sorted(allow)}")
            elif url.startswith("/api/"):
                assert answer.json["error"]["code"] == "method_not_allowed"
    assert not wrong, "\n".join(wrong)
    assert _system_log_rows(db) == 0


def test_an_ordinary_method_a_route_does_not_take_answers_405(wsgi_app, db, clients):
    routes = _route_paths(wsgi_app)
    wrong = []
    checked = 0
    for who, client in clients.items():
        for name, (url, declared) in sorted(routes.items()):
            if not declared:
                continue  # a view that takes any ordinary method
            method = next(m for m in ("PUT", "DELETE", "PATCH", "POST") if m not in declared)
            answer = client.request(url, method=method, status="*")
            checked += 1
            allow = {part.strip() for part in answer.headers.get("Allow", "").split(",")}
            if answer.status_int != 405 or method in allow or not declared <= allow:
                wrong.append(f"{who} {method} {url} ({name}): {answer.status_int}, Allow {sorted(allow)}")
    assert checked > 50
    assert not wrong, "\n".join(wrong)
    assert _system_log_rows(db) == 0


def test_405_page_and_json_say_what_to_use(testapp):
    page = testapp.request("/login", method="TRACE", status=405)
    assert page.headers["Allow"] == "GET, HEAD, POST"
    assert "TRACE is not allowed here" in page.text
    answer = testapp.request("/api/v1/leads", method="PUT", status=405)
    assert answer.headers["Allow"] == "GET, HEAD, POST"
    assert answer.json == {
        "error": {"code": "method_not_allowed", "message": "PUT is not allowed here; use GET, HEAD, POST."}
    }
    # An address that does not exist stays a 404, whatever the method.
    testapp.request("/no-such-page", method="TRACE", status=404)


def test_a_missing_static_file_is_a_404_page_for_a_signed_in_user_too(clients):
    # Static files are served without a transaction: the page must not read the user.
    for client in clients.values():
        page = client.get("/static/css/no-such-file.css", status=404)
        assert "Page not found" in page.text
