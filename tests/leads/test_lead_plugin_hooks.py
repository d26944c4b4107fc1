"""Plugins add facts to lead cards and list rows, choice lists to the lead filters, and
steps to a new company's checklist, through the same hooks the bundled plugins use."""

from __future__ import annotations

import pytest
import webtest
from pluggy import PluginManager
from sqlalchemy import exists

from orbitflow import hookimpl
from orbitflow.app import make_app
from orbitflow.leads.models import Lead
from orbitflow.lifecycle import shut_down
from orbitflow.plugins import FilterChoice, FirstStep, LeadFact, LeadListFilter
from orbitflow.shared import shared
from support import sign_in


class Temperature:
    """Every even lead id is hot; leads tagged by source can be filtered by it."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    @hookimpl
    def lead_facts(self, session, lead_ids):
        self.calls.append(sorted(lead_ids))
        return [LeadFact(lead_id, "Temperature", "hot" if lead_id % 2 == 0 else "cold") for lead_id in lead_ids]

    @hookimpl
    def lead_filter_choices(self, session):
        return [FilterChoice("utm_source", "Ad network", (("facebook", "Facebook"), ("tiktok", "TikTok")))]

    @hookimpl
    def lead_list_filters(self):
        def temperature(text: str) -> str:
            if text not in ("hot", "cold"):
                raise ValueError("Choose hot or cold.")
            return text

        def criterion(company_id, values):
            return (Lead.id % 2 == 0) if values["temperature"] == "hot" else (Lead.id % 2 == 1)

        return [LeadListFilter(("temperature",), temperature, criterion)]

    @hookimpl
    def first_steps(self, request):
        hot = exists().where(Lead.company_id == request.identity.company_id, Lead.name == "Hot lead")
        return [FirstStep("hot", "Add a hot lead", "lead_new", hot, "leads.create", order=5)]


@pytest.fixture
def plugin_app(backend):
    plugin = Temperature()

    def install(config):
        shared(config.registry, PluginManager).register(plugin, name="temperature")

    app = make_app(backend.ini(), environ={}, engine=backend.engine, includes=[install])
    yield webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"}), plugin
    shut_down(app.registry)


def test_plugins_add_facts_filters_and_first_steps(plugin_app, db, owner, make_lead):
    client, plugin = plugin_app
    leads = [make_lead(f"Lead {n}", utm_source="facebook" if n else "tiktok") for n in range(3)]
    sign_in(client, owner)
    board = client.get("/pipeline")
    for lead in leads:
        card = board.html.select_one(f"#lead-card-{lead.id} .kcard-facts")
        assert card.get_text(" ", strip=True) == f"Temperature {'hot' if lead.id % 2 == 0 else 'cold'}"
    assert plugin.calls[-1] == sorted(lead.id for lead in leads)  # one call for the page
    listing = client.get("/leads", {"utm_source": "tiktok"})
    assert "Temperature" in [th.get_text(strip=True) for th in listing.html.select("th")]
    assert [a.get_text() for a in listing.html.select("table.leads-table tbody td a")] == ["Lead 0"]
    chosen = listing.html.select_one("#filter-utm_source option[selected]")
    assert chosen.get_text() == "TikTok"
    # A filter with a choice list is no longer carried as a hidden input.
    assert listing.html.select('input[type="hidden"][name="utm_source"]') == []
    dashboard = client.get("/dashboard")
    first = dashboard.html.select("#first-steps li")[0]
    assert first["data-step"] == "hot" and "todo" in first["class"]
    make_lead("Hot lead")
    assert "done" in client.get("/dashboard").html.select("#first-steps li")[0]["class"]


def test_a_plugins_lead_filter_filters_the_list_the_board_and_the_api(plugin_app, db, owner, make_lead):
    client, _ = plugin_app
    leads = [make_lead(f"Lead {n}") for n in range(4)]
    hot = {lead.name for lead in leads if lead.id % 2 == 0}
    sign_in(client, owner)
    listing = client.get("/leads", {"temperature": "hot"})
    assert {a.get_text() for a in listing.html.select("table.leads-table tbody td a")} == hot
    # The filter in use stays in the links (the board view of the same leads).
    assert "temperature=hot" in listing.html.select_one("a[href*='/pipeline?']")["href"]
    board = client.get("/pipeline", {"temperature": "hot"})
    assert {card.select_one("a").get_text(strip=True) for card in board.html.select(".kcard")} == hot
    api = client.get("/api/v1/leads", {"temperature": "hot"}).json
    assert {item["name"] for item in api["items"]} == hot
    error = client.get("/api/v1/leads", {"temperature": "lukewarm"}, status=400).json["error"]
    assert error["fields"] == {"temperature": "Choose hot or cold."}
