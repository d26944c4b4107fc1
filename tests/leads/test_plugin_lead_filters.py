"""The lead filters a plugin offers (quiz_id, won_from/won_to) exist only while it is
enabled: without it the API refuses them with a 400 that names them, never a 500; the lead
list, the board and the export, opened from links, ignore them like any parameter that is
no filter; the rest works as before."""

from __future__ import annotations

import pytest
import webtest

from orbitflow.app import make_app
from orbitflow.lifecycle import shut_down
from support import sign_in

WON = {"won_from": "2026-11-01T00:00:00Z", "won_to": "2026-12-01T00:00:00Z"}


@pytest.fixture
def app_with(backend):
    apps = []

    def build(plugins: str) -> webtest.TestApp:
        app = make_app(backend.ini(**{"orbitflow.plugins": plugins}), environ={}, engine=backend.engine)
        apps.append(app)
        return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})

    yield build
    for app in apps:
        shut_down(app.registry)


def names(page) -> set[str]:
    return {a.get_text(strip=True) for a in page.html.select("table.leads-table tbody td a") if a.get_text(strip=True)}


@pytest.mark.parametrize(
    "plugins, refused",
    [
        pytest.param("", {"quiz_id": "1", **WON}, id="no-plugins"),
        pytest.param("quiz", WON, id="quiz-without-analytics"),
    ],
)
def test_a_disabled_plugins_filter_is_refused_by_the_api_and_ignored_by_the_pages(
    app_with, owner, make_lead, plugins, refused
):
    client = app_with(plugins)
    make_lead("Ada")
    sign_in(client, owner)
    for key, value in refused.items():
        error = client.get("/api/v1/leads", {key: value}, status=400).json["error"]
        assert list(error["fields"]) == [key]
        assert "plugin" in error["fields"][key]
        # A quiz that created no lead, a window without wins: were they read, nothing would show.
        listing = client.get("/leads", {key: value, "sort": "name"}, status=200)
        assert names(listing) == {"Ada"} and key not in listing.html.select_one("a[rel=next], th a")["href"]
        assert "Ada" in client.get("/pipeline", {key: value}, status=200).text
        assert "Ada" in client.get("/leads/export.csv", {key: value}, status=200).text
    # Nothing else changed: the core's filters, paging and sort still answer.
    assert [lead["name"] for lead in client.get("/api/v1/leads", {"q": "ada", "sort": "name"}).json["items"]] == ["Ada"]
    assert names(client.get("/leads", {"q": "ada", "per_page": "25", "page": "1"})) == {"Ada"}
    assert client.get("/pipeline", {"q": "ada"}).status_int == 200
    assert "Ada" in client.get("/leads/export.csv", {"sort": "name"}).text


def test_the_enabled_plugins_filters_are_taken(app_with, owner, make_lead):
    client = app_with("quiz analytics")
    make_lead("Ada")
    sign_in(client, owner)
    # A quiz that created no lead and a window without wins: nothing, and no error.
    assert client.get("/api/v1/leads", {"quiz_id": "999999", **WON}).json["total"] == 0
    assert names(client.get("/leads", {"quiz_id": "999999"})) == set()
    # The filters in use are carried into the page's links and hidden inputs.
    listing = client.get("/leads", WON | {"quiz_id": "999999"})
    assert "won from 2026-11-01T00:00:00Z" in listing.html.select_one("#more-filters").text
    assert "quiz_id=999999" in listing.html.select_one("a[href*='/pipeline?']")["href"]
    error = client.get("/api/v1/leads", {"won_from": "last week", "quiz_id": "x"}, status=400).json["error"]
    assert set(error["fields"]) == {"won_from", "quiz_id"}


def test_a_parameter_that_is_no_filter_is_refused_by_the_api(app_with, owner):
    client = app_with("quiz analytics")
    sign_in(client, owner)
    error = client.get("/api/v1/leads", {"colour": "red"}, status=400).json["error"]
    assert list(error["fields"]) == ["colour"]
    # The API's owner filter is owner_id; the pages' is owner.
    assert list(client.get("/api/v1/leads", {"owner": "me"}, status=400).json["error"]["fields"]) == ["owner"]
    client.get("/leads", {"owner": "me"}, status=200)
