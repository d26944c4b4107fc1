"""Every registered route with hostile values in every path and query parameter (and form
field), as a visitor and as an owner: no answer is a 500 and nothing reaches the system log.

The routes come from Pyramid's introspector (as in the permission walk), so a route added
later, by the core or a plugin, is walked without touching this file; the parameter names
are those the code reads (``hostile.parameter_names``).
"""

from __future__ import annotations

import time

import pytest
import webtest
from sqlalchemy import func, select
from webob import Request

from accounts.routewalk import MISSING_ID, View, routed_views
from orbitflow.accounts.models import User
from orbitflow.plugins import RolePermissions
from orbitflow.security import SESSION_COOKIE
from orbitflow.shared import shared
from orbitflow.syslog.models import SystemLogEntry
from support import csrf_token
from web.hostile import HOSTILE, HOSTILE_IDS, UNDECODABLE, escaped, fill, parameter_names, query, takes

# Routes that undo what the walk needs (a session, the rows it reads): walked last.
DESTRUCTIVE = ("delete", "deactivate", "revoke", "merge", "session_end", "logout", "state", "end")
ID_PATTERN = r"\d+"


@pytest.fixture
def walk_rows(world, make_user, db):
    agent = make_user(world.company, "AGENT", username="agent")
    quiz = world.quiz
    return {
        "id": {
            "lead": world.lead.id,
            "api_lead": world.lead.id,
            "pipeline_card": world.lead.id,
            "stage": world.stage.id,
            "api_stage": world.stage.id,
            "user": agent.id,
            "api_user": agent.id,
        },
        "quiz_id": quiz.id,
        "question_id": quiz.questions[0].id,
        "outcome_id": quiz.outcomes[0].id,
        "stage_id": world.stage.id,
        "user_id": agent.id,
        "subscription_id": world.company.subscription_id,
        "slug": quiz.slug,
        "token": "x" * 43,
        "color": "0ea5e9",
    }


def _real(view: View, name: str, regex: str, rows: dict) -> str:
    """A value for the placeholder naming a row the walk made (or none, for the rest)."""
    value = rows.get(name)
    if isinstance(value, dict):
        value = next((v for prefix, v in value.items() if view.route_name.startswith(prefix)), None)
    if value is None:
        if "|" in regex:
            return regex.split("|")[0]
        return str(MISSING_ID)
    return str(value)


def _order(view: View) -> tuple[bool, bool, str]:
    destructive = not view.is_safe and any(word in view.route_name for word in DESTRUCTIVE)
    return (destructive, not view.is_safe, view.pattern)


def _candidates(regex: str) -> tuple[str, ...]:
    values = HOSTILE_IDS if regex == ID_PATTERN else (*HOSTILE, *UNDECODABLE)
    return tuple(value for value in values if takes(regex, value))


def _requests(view: View, seed: int, rows: dict, names: list[str], depth: str):
    """(path, query, round) triples for ``view``.

    ``wall``: one request, hostile path and query, for a view that refuses the caller;
    ``sampled``: real rows with hostile parameters, then hostile path values (which
    value goes where turns with ``seed``, so that the walk as a whole uses every one);
    ``full``: every round of parameters, every hostile value in every placeholder.
    """
    placeholders = view.placeholders
    real = {name: escaped(_real(view, name, regex, rows)) for name, regex in placeholders.items()}
    hostile = {}
    for name, regex in placeholders.items():
        candidates = _candidates(regex)
        hostile[name] = escaped(candidates[seed % len(candidates)]) if candidates else real[name]
    if depth == "wall":
        yield fill(view, hostile), query(names, seed), seed
        return
    rounds = range(len(HOSTILE)) if depth == "full" else (seed,)
    for number in rounds:
        yield fill(view, real), query(names, number), number
    if view.is_public or depth == "full":
        yield fill(view, real), query(names[:3], seed, UNDECODABLE), seed
    if depth == "full":
        for name, regex in placeholders.items():
            for value in _candidates(regex):
                yield fill(view, {**real, name: escaped(value)}), "", seed
    elif placeholders:
        yield fill(view, hostile), "", seed


def _send(client: webtest.TestApp, view: View, path: str, query_string: str, names: list[str], number: int):
    method = view.method
    headers = {"Accept": "application/json" if view.is_api else "text/html"}
    body = b""
    if not view.is_safe:
        headers["X-CSRF-Token"] = csrf_token(client)
        if view.is_api:
            headers["Content-Type"], body = "application/json", b"{}"
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = query(names, number).encode()
    url = f"{path}?{query_string}" if query_string else path
    if not any(value in path for value in UNDECODABLE):
        return client.request(url, method=method, headers=headers, body=body, expect_errors=True)
    # WebTest's cookie jar reads the request's URL as text, which such a path is not: send
    # the browser's cookies by hand, past the jar.
    cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    request = Request.blank(url, method=method, headers={**headers, "Cookie": cookies}, POST=body or None)
    request.environ.update(client.extra_environ)
    response = request.get_response(client.app)
    for _name, value in response.headerlist:
        value.encode("latin-1")  # what a WSGI server can send (WebTest checks the others)
    return response


def _signed_out(response) -> bool:
    return any(name == "Set-Cookie" and value.startswith(f"{SESSION_COOKIE}=;") for name, value in response.headerlist)


def _walk(registry, world, rows, clients, login_as, another_client, depth: str) -> tuple[list[str], int]:
    grants = shared(registry, RolePermissions)
    names = parameter_names()
    views = sorted((view for view in routed_views(registry) if not view.is_static), key=_order)
    assert len(views) > 100  # the whole app, plugins included
    failures: list[str] = []
    sent = 0
    for seed, view in enumerate(views):
        for who in list(clients):
            allowed = view.is_public or (who == "owner" and view.permitted(grants["OWNER"]))
            for path, query_string, number in _requests(view, seed, rows, names, depth if allowed else "wall"):
                response = _send(clients[who], view, path, query_string, names, number)
                sent += 1
                if response.status_int >= 500:
                    failures.append(f"{who} {view.method} {path[:120]}?{query_string[:80]}: {response.status}")
                if who == "owner" and _signed_out(response):
                    clients["owner"] = login_as(world.owner, another_client())
    return failures, sent


@pytest.mark.parametrize("depth", ["sampled", pytest.param("full", marks=pytest.mark.slow)])
def test_hostile_values_on_every_route_answer_without_500(
    depth, wsgi_app, world, walk_rows, testapp, another_client, login_as, db, errors_logged
):
    """``sampled`` sends each route a few requests, turning which hostile value goes to
    which parameter from route to route; ``full`` (slow) sends every value everywhere."""
    assert {"page", "per_page", "stage_id", "owner_id", "next", "until", "q"} <= set(parameter_names())
    csrf_token(testapp)
    clients = {"visitor": testapp, "owner": login_as(world.owner, another_client())}
    started = time.perf_counter()
    failures, sent = _walk(wsgi_app.registry, world, walk_rows, clients, login_as, another_client, depth)
    elapsed = time.perf_counter() - started
    assert not failures, f"{len(failures)} of {sent} requests failed:\n" + "\n".join(failures[:60])
    assert db.scalar(select(func.count()).select_from(SystemLogEntry)) == 0
    assert errors_logged() == []
    # The walk signed the owner back in whenever a route signed them out.
    assert db.get(User, world.owner.id).is_active
    print(f"hostile walk ({depth}): {sent} requests in {elapsed:.1f} s")
