"""The dashboard and the summary API run a fixed number of SQL statements (at most ten,
the issue's budget), however many leads, owners and campaigns there are, with and
without the UTM detail."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from test_owners_and_utm_detail import since_november

from statements import Statements

BUDGET = 10
REQUESTS = ["/analytics", "/analytics?detail=utm", "/api/v1/analytics/summary", "/api/v1/analytics/summary?detail=utm"]


@pytest.mark.parametrize("path", REQUESTS)
def test_a_report_runs_a_fixed_number_of_statements(backend, testapp, login_as, owner, kit, company, team, path):
    login_as(owner)
    params = since_november()
    testapp.get(path, params)  # warm: templates, compiled statements, the company's settings
    with Statements(backend.engine) as few:
        testapp.get(path, params)
    for number in range(12):
        at = datetime(2026, 11, 2, 9, 0) + timedelta(hours=number)
        kit.lead(company, at, name=f"More {number}", utm={"medium": f"m{number}", "content": f"c{number}"})
    kit.flush()
    with Statements(backend.engine) as more:
        testapp.get(path, params)
    assert len(few.sent) == len(more.sent) <= BUDGET, "\n".join(more.sent)
