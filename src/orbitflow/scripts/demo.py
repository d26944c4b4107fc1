"""The demo company of ``initializedb --demo``: users of every role, then plugin data."""

from __future__ import annotations

from collections.abc import Iterator

import pluggy
from sqlalchemy import select
from sqlalchemy.orm import Session

from orbitflow.leads.demo import create_demo_leads
from orbitflow.tenants.models import Company
from orbitflow.tenants.services import create_company

DEMO_SUBSCRIPTION_ID = "demo"
DEMO_PASSWORD = "DemoPass@2024"
DEMO_USERS = (
    ("owner", "Olivia Owner", "OWNER"),
    ("admin", "Adam Admin", "ADMIN"),
    ("manager", "Maya Manager", "MANAGER"),
    ("agent", "Alex Agent", "AGENT"),
    ("agent2", "Sam Seller", "AGENT"),
    ("viewer", "Victor Viewer", "VIEWER"),
)


def create_demo_data(session: Session, pm: pluggy.PluginManager) -> Iterator[str]:
    from orbitflow.scripts.initializedb import ensure_user

    company = session.scalar(select(Company).where(Company.subscription_id == DEMO_SUBSCRIPTION_ID))
    if company is not None:
        yield f"Demo company {DEMO_SUBSCRIPTION_ID!r} exists; demo data left as it is."
        return
    company = create_company(session, name="Acme Demo Ltd", subscription_id=DEMO_SUBSCRIPTION_ID, plan="PROFESSIONAL")
    yield f"Created demo company {DEMO_SUBSCRIPTION_ID!r}."
    for username, name, role in DEMO_USERS:
        ensure_user(
            session,
            company,
            username,
            DEMO_PASSWORD,
            role,
            name=name,
            email=f"{username}@demo.example",
            must_change_password=True,
        )
    yield (
        f"Created demo users {', '.join(u for u, _, _ in DEMO_USERS)} with password {DEMO_PASSWORD!r} "
        "(password change required at first login)."
    )
    yield from create_demo_leads(session, company.id)
    for lines in pm.hook.demo_data(session=session, company=company):
        yield from lines or ()
