"""Domain event hooks run after the request's transaction committed, never for a change
that rolled back; a failing hook is logged and does not fail the request."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orbitflow.events import LeadEvent, QuizEvent
from orbitflow.syslog.models import SystemLogEntry
from orbitflow.tenants.models import Company

EVENT_HOOKS = ["lead_created", "lead_updated", "lead_moved", "quiz_viewed", "quiz_started", "quiz_submitted"]


@pytest.mark.parametrize("hook", EVENT_HOOKS)
def test_event_hook_is_called_once_after_commit(probe_client, event_recorder, hook, db):
    response = probe_client.get("/probe/event", {"hook": hook, "name": f"Evented {hook}", "lead_id": "5"}, status=200)
    company_id = int(response.text.split()[-1])
    [(called, event, committed)] = event_recorder.calls
    assert called == hook
    assert isinstance(event, LeadEvent if hook.startswith("lead_") else QuizEvent)
    assert (event.company_id, event.lead_id) == (company_id, 5)
    assert committed, "the hook ran before the request's transaction committed"
    assert db.get(Company, company_id) is not None


@pytest.mark.parametrize("hook", ["lead_created", "quiz_submitted"])
def test_event_hook_is_not_called_when_the_view_fails(probe_client, event_recorder, hook, db):
    probe_client.get("/probe/event", {"hook": hook, "name": "Rolled Back", "fail": "1"}, status=500)
    assert event_recorder.calls == []
    assert db.scalar(select(Company).where(Company.name == "Rolled Back")) is None


def test_failing_hook_is_logged_and_the_request_still_succeeds(probe_client, event_recorder, db):
    event_recorder.fail_for.add(13)
    probe_client.get("/probe/event", {"hook": "lead_moved", "name": "Hook Fails", "lead_id": "13"}, status=200)
    assert db.scalar(select(Company).where(Company.name == "Hook Fails")) is not None
    [entry] = db.scalars(select(SystemLogEntry)).all()
    assert (entry.level, entry.source, entry.endpoint) == ("ERROR", "SERVER_ACTION", "hook:lead_moved")
    assert entry.message == "ProbeFailure: lead_moved failed for lead 13"
