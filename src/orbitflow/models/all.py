"""Every core model in one place, so the mappers and Alembic see the whole schema."""

from orbitflow.accounts.links import AccountLink
from orbitflow.accounts.models import ApiKey, RecoveryCode, TwoFactorChallenge, TwoFactorSecret, User
from orbitflow.audit.models import AuditEntry
from orbitflow.deliveries.models import Delivery, DeliveryAttempt
from orbitflow.leads.models import Lead, LeadActivity, LeadNote, LeadTag, Stage
from orbitflow.mail.models import NotificationSettings
from orbitflow.models.meta import Base, TenantOwned, utcnow
from orbitflow.syslog.models import SystemLogEntry
from orbitflow.tenants.models import Company, Plan
from orbitflow.webhooks.models import Webhook

__all__ = [
    "AccountLink",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Company",
    "Delivery",
    "DeliveryAttempt",
    "Lead",
    "LeadActivity",
    "LeadNote",
    "LeadTag",
    "NotificationSettings",
    "Plan",
    "RecoveryCode",
    "Stage",
    "SystemLogEntry",
    "TenantOwned",
    "TwoFactorChallenge",
    "TwoFactorSecret",
    "User",
    "Webhook",
    "utcnow",
]
