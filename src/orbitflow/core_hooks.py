"""The core's own hook implementations: it uses the same hooks it offers to plugins."""

from __future__ import annotations

from orbitflow import hookimpl
from orbitflow.plugins import NavItem, PermissionGrant
from orbitflow.security import CORE_PERMISSIONS, READ_ONLY_PERMISSIONS


@hookimpl
def model_modules():
    return ["orbitflow.models.all"]


@hookimpl
def migration_locations():
    return ["orbitflow.alembic:versions"]


@hookimpl
def permissions():
    return [
        PermissionGrant(name, tuple(sorted(roles)), description, read_only=name in READ_ONLY_PERMISSIONS)
        for name, (roles, description) in CORE_PERMISSIONS.items()
    ]


@hookimpl
def nav_items(request):
    return [
        NavItem("Dashboard", "home", "dashboard.view", order=0),
        NavItem("Pipeline", "pipeline", "leads.view", order=10),
        NavItem("Leads", "leads", "leads.view", order=20, match_prefix="/leads"),
        NavItem("Audit log", "audit", "audit.view", order=80),
        NavItem("Super admin", "admin_companies", "platform.admin", order=90, match_prefix="/admin/"),
    ]


@hookimpl
def settings_pages(request):
    return [
        NavItem("Profile", "profile", "profile.edit", order=0),
        NavItem("Pipeline stages", "stages", "stages.manage", order=30),
        NavItem("Users", "users", "users.view", order=10),
        NavItem("Security", "two_factor_policy", "company.two_factor", order=12),
        NavItem("API keys", "apikeys", "apikeys.manage", order=20),
        NavItem("Webhooks", "webhooks", "webhooks.manage", order=25),
        NavItem("Notifications", "notifications", "users.manage", order=15),
    ]


@hookimpl
def delivery_channels(registry):
    from orbitflow.mail.channel import MailChannel
    from orbitflow.webhooks.channel import WebhookChannel

    return [WebhookChannel(registry), MailChannel(registry)]


@hookimpl
def domain_event_in_transaction(session, name, event):
    from orbitflow.mail.notifications import notify_for_domain_event
    from orbitflow.webhooks.services import enqueue_for_domain_event

    enqueue_for_domain_event(session, name, event)
    notify_for_domain_event(session, name, event)
