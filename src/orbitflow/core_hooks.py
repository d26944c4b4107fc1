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
        NavItem("Region and currency", "company_region", "company.settings", order=35),
    ]


@hookimpl
def lead_filter_choices(session):
    from sqlalchemy import select

    from orbitflow.leads.models import Lead
    from orbitflow.plugins import FilterChoice

    campaigns = session.scalars(
        select(Lead.utm_campaign)
        .distinct()
        .where(Lead.utm_campaign.is_not(None), Lead.utm_campaign != "")
        .order_by(Lead.utm_campaign)
        .limit(200)
    )
    return [FilterChoice("utm_campaign", "Campaign", tuple((name, name) for name in campaigns))]


@hookimpl
def first_steps(request):
    from sqlalchemy import exists, func, select

    from orbitflow.accounts.models import User
    from orbitflow.audit.models import AuditEntry
    from orbitflow.plugins import FirstStep
    from orbitflow.tenants.models import Company
    from orbitflow.webhooks.models import Webhook

    company_id = request.identity.company_id
    users = select(func.count()).select_from(User).where(User.company_id == company_id).scalar_subquery()
    return [
        FirstStep(
            "stages",
            "Name your pipeline's stages",
            "stages",
            exists().where(AuditEntry.company_id == company_id, AuditEntry.action.like("stage.%")),
            "stages.manage",
            order=10,
        ),
        FirstStep(
            "region",
            "Choose your country, currency and time zone",
            "company_region",
            # Chosen once the company has a country of its own (phone numbers follow it).
            exists().where(Company.id == company_id, Company.phone_region.is_not(None)),
            "company.settings",
            order=15,
        ),
        FirstStep("users", "Invite a teammate", "users", users > 1, "users.manage", order=20),
        FirstStep(
            "webhooks",
            "Add a webhook",
            "webhooks",
            exists().where(Webhook.company_id == company_id),
            "webhooks.manage",
            60,
        ),
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
