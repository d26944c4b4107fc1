"""Fixtures for the leads tests: a company with its default stages, users, leads."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orbitflow.leads.models import Lead, LeadTag, Stage
from orbitflow.leads.positions import GAP
from support import csrf_token


@pytest.fixture
def company(make_company):
    return make_company(name="Pipeline Co")


@pytest.fixture
def stages(db, company) -> list[Stage]:
    return list(db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)))


@pytest.fixture
def owner(make_user, company):
    return make_user(company, "OWNER", username="olivia", name="Olivia Owner")


@pytest.fixture
def make_lead(db, stages):
    """Insert a lead directly (arranging data, not the feature under test)."""
    counters: dict[int, int] = {}

    def make(name: str = "Lead", stage: Stage | None = None, **fields) -> Lead:
        stage = stage or stages[0]
        position = counters.get(stage.id, 0)
        counters[stage.id] = position + GAP
        tags = fields.pop("tags", [])
        lead = Lead(company_id=stage.company_id, name=name, stage_id=stage.id, position=position, **fields)
        lead.tag_rows = [LeadTag(company_id=stage.company_id, tag=tag) for tag in tags]
        db.add(lead)
        db.commit()
        return lead

    return make


@pytest.fixture
def api(testapp):
    """JSON calls with the CSRF header, as the board's scripts send them."""

    class Api:
        def __init__(self, client):
            self.client = client

        def _headers(self):
            return {"X-CSRF-Token": csrf_token(self.client), "Accept": "application/json"}

        def get(self, url, status=200, **params):
            return self.client.get(url, params=params or None, headers={"Accept": "application/json"}, status=status)

        def post(self, url, body, status=200):
            return self.client.post_json(url, body, headers=self._headers(), status=status)

        def patch(self, url, body, status=200):
            return self.client.patch_json(url, body, headers=self._headers(), status=status)

        def delete(self, url, status=204):
            return self.client.delete(url, headers=self._headers(), status=status)

    def make(client=None):
        return Api(client or testapp)

    return make
