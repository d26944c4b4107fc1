"""Who hears of a lead by e-mail, written to the outbox in the change's transaction.

- A new lead (quiz, import, API, by hand) notifies its assignee, unless the assignee made
  it; an unassigned one notifies the company's chosen recipients (Settings →
  Notifications; the owners when nobody is chosen), except the person who made it.
- A lead assigned to someone else notifies the new owner.
- Users who switched e-mail notifications off in their Profile, inactive users and users
  without an address get nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User
from orbitflow.companycache import CompanyReader
from orbitflow.db import unscoped
from orbitflow.deliveries import enqueue
from orbitflow.events import LeadEvent, new_event_id
from orbitflow.leads.models import Lead, Stage
from orbitflow.mail.channel import CHANNEL
from orbitflow.mail.models import NotificationSettings
from orbitflow.tenants.models import Company


def settings_of(session: Session, company_id: int) -> dict[int, NotificationSettings]:
    rows = session.scalars(select(NotificationSettings).where(NotificationSettings.company_id == company_id))
    return {row.user_id: row for row in rows}


def _wants_mail(user: User | Recipient | None, choices: dict[int, Choice]) -> bool:
    if not (user and user.is_active and user.email and user.role != "SUPER_ADMIN"):
        return False
    choice = choices.get(user.id)
    return choice is None or choice.lead_emails


@dataclass(frozen=True)
class Choice:
    """A user's choices under Profile and Settings → Notifications."""

    lead_emails: bool
    unassigned_leads: bool


@dataclass(frozen=True)
class Recipient:
    """What sending a user an e-mail needs (cached: not the ORM row)."""

    id: int
    company_id: int
    username: str
    name: str | None
    email: str | None
    role: str
    is_active: bool


@dataclass(frozen=True)
class CompanyRecipients:
    choices: dict[int, Choice]
    # Active users, by id.
    users: tuple[Recipient, ...]


def _load_recipients(session: Session, company_id: int) -> CompanyRecipients:
    choices = {
        user_id: Choice(lead_emails, unassigned_leads)
        for user_id, lead_emails, unassigned_leads in session.execute(
            select(
                NotificationSettings.user_id, NotificationSettings.lead_emails, NotificationSettings.unassigned_leads
            ).where(NotificationSettings.company_id == company_id)
        )
    }
    users = tuple(
        Recipient(*row)
        for row in session.execute(
            select(User.id, User.company_id, User.username, User.name, User.email, User.role, User.is_active)
            .where(User.company_id == company_id, User.is_active.is_(True))
            .order_by(User.id)
        )
    )
    return CompanyRecipients(choices, users)


# Read for every new lead: cached per process (see orbitflow.companycache for how fresh).
company_recipients = CompanyReader(
    "mail.recipients", [NotificationSettings.__table__, User.__table__], _load_recipients
)


def unassigned_recipients(recipients: CompanyRecipients) -> list[Recipient]:
    """The users chosen under Settings → Notifications; the owners when nobody is."""
    choices = recipients.choices
    chosen = [user for user in recipients.users if user.id in choices and choices[user.id].unassigned_leads]
    return chosen or [user for user in recipients.users if user.role == "OWNER"]


def send_to_user(
    session: Session, user: User | Recipient, *, template: str, event_id: str, context: dict[str, Any]
) -> None:
    enqueue(
        session,
        company_id=user.company_id,
        channel=CHANNEL,
        destination=user.email,
        payload={
            "template": template,
            "to_name": user.name or user.username,
            "context": {**context, "recipient": user.name or user.username},
        },
        event_id=event_id,
    )


def _lead_context(session: Session, lead: Lead) -> dict[str, Any]:
    stage = session.get(Stage, lead.stage_id)
    company = session.get(Company, lead.company_id)
    return {
        "lead": {
            "id": lead.id,
            "name": lead.name,
            "email": lead.email or "",
            "phone": lead.phone or "",
            "company_name": lead.company_name or "",
            "source": lead.source,
            "stage": stage.name if stage else "",
        },
        "company": company.name if company else "",
        "lead_path": f"/leads/{lead.id}",
    }


def notify_for_domain_event(session: Session, name: str, event) -> int:
    if not isinstance(event, LeadEvent) or name not in ("lead_created", "lead_updated"):
        return 0
    with unscoped(session):
        recipients_of = company_recipients(session, event.company_id)
        choices = recipients_of.choices
        if name == "lead_created":
            lead = session.get(Lead, event.lead_id)
            if lead is None:
                return 0
            if lead.owner_id:
                recipients = [session.get(User, lead.owner_id)]
                template = "lead_assigned_new"
            else:
                recipients = unassigned_recipients(recipients_of)
                template = "lead_new"
        else:
            change = event.changes.get("owner_id")
            if not change or not change.get("to"):
                return 0
            lead = session.get(Lead, event.lead_id)
            if lead is None:
                return 0
            recipients = [session.get(User, change["to"])]
            template = "lead_assigned"
        recipients = [
            user
            for user in recipients
            if _wants_mail(user, choices) and user.id != event.actor_id and user.company_id == lead.company_id
        ]
        if not recipients:
            return 0
        context = _lead_context(session, lead)
        actor = session.get(User, event.actor_id) if event.actor_id else None
        context["actor"] = (actor.name or actor.username) if actor else ""
        for user in recipients:
            send_to_user(session, user, template=template, event_id=event.event_id, context=context)
    return len(recipients)


def notify_webhook_disabled(session: Session, webhook) -> int:
    """Tell the company's owners that a webhook was disabled after failing (whatever
    their lead e-mail choice: this one needs someone to act)."""
    with unscoped(session):
        owners = [
            user
            for user in session.scalars(
                select(User).where(
                    User.company_id == webhook.company_id, User.role == "OWNER", User.is_active.is_(True)
                )
            )
            if user.email
        ]
        company = session.get(Company, webhook.company_id)
        context = {
            "url": webhook.url,
            "reason": webhook.disabled_reason or "",
            "company": company.name if company else "",
            "webhook_path": f"/settings/webhooks/{webhook.id}",
        }
        event_id = new_event_id()
        for user in owners:
            send_to_user(session, user, template="webhook_disabled", event_id=event_id, context=context)
    return len(owners)
