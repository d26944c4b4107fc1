"""The analytics dashboard: which quiz and which campaign brings customers."""

from __future__ import annotations

from orbitflow import hookimpl
from orbitflow.plugins import NavItem, PermissionGrant

LEAD_EVENTS = ("lead_created", "lead_updated", "lead_moved", "lead_deleted")


@hookimpl
def permissions():
    return [
        PermissionGrant("analytics.view", ("OWNER", "ADMIN", "MANAGER"), "Open the analytics dashboard", read_only=True)
    ]


@hookimpl
def migration_locations():
    return ["orbitflow_plugins.analytics.migrations:versions"]


@hookimpl
def template_dirs():
    return ["orbitflow_plugins.analytics:templates"]


@hookimpl
def model_modules():
    return ["orbitflow_plugins.analytics.models"]


@hookimpl
def add_routes(config):
    from orbitflow_plugins.analytics.routes import includeme

    includeme(config)


@hookimpl
def nav_items(request):
    return [NavItem("Analytics", "analytics", "analytics.view", order=40, match_prefix="/analytics")]


@hookimpl
def lead_list_filters():
    from orbitflow_plugins.analytics.lead_filters import WON_FILTER

    return [WON_FILTER]


@hookimpl(trylast=True)
def demo_data(session, company):
    # Last, after the leads, quizzes and submissions of the other plugins' demo data, which
    # are written in bulk: the counts are built from the rows present, as a rebuild does.
    from orbitflow_plugins.analytics.rebuild import rebuild

    session.flush()
    counted = rebuild(session.connection(), company.id)
    return [f"Built the analytics counts of {counted['leads']} demo leads and {counted['events']} funnel events."]


@hookimpl
def domain_event_in_transaction(session, name, event):
    if name == "company_updated":
        if "time_zone" in event.changes:
            from orbitflow_plugins.analytics.rebuild import rebuild

            # The days are counted in the company's zone: count them again in the new one.
            rebuild(session.connection(), event.company_id)
        return
    if name not in LEAD_EVENTS:
        return
    from orbitflow.db import unscoped
    from orbitflow.leads.models import Lead
    from orbitflow_plugins.analytics import leadfacts, rollups

    # The stage history is written with the change (it records when, and the value then);
    # the facts and daily counts are refreshed after commit by the process's rollups.
    if name == "lead_created" or (name == "lead_moved" and event.stage_id != event.previous_stage_id):
        with unscoped(session):
            lead = session.get(Lead, event.lead_id)
            if lead is not None and lead.company_id == event.company_id:
                leadfacts.record_stage_entry(session, lead, lead.created_at if name == "lead_created" else None)
    rollups.note_change(session, event.company_id, event.lead_id)
