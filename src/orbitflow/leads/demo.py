"""Demo leads for ``initializedb --demo``: a few hundred believable leads spread over the
stages, owners and sources, the same every time (fixed random seed), inserted in bulk."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from orbitflow.accounts.models import User
from orbitflow.leads.models import Lead, LeadActivity, LeadNote, LeadTag, Stage
from orbitflow.leads.positions import GAP
from orbitflow.models.meta import utcnow

FIRST_NAMES = (
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Sophia",
    "Elijah",
    "Mia",
    "Lucas",
    "Isla",
    "Mateo",
    "Ava",
    "Leo",
    "Chloe",
    "Hugo",
    "Zara",
    "Arjun",
    "Priya",
    "Kenji",
    "Yuki",
    "Fatima",
    "Omar",
    "Ingrid",
    "Lars",
    "Sofia",
    "Diego",
    "Camila",
    "Tomasz",
    "Ewa",
    "Chen",
    "Mei",
    "Kwame",
    "Ama",
    "Niamh",
    "Sean",
)
LAST_NAMES = (
    "Smith",
    "Johnson",
    "Garcia",
    "Müller",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Nguyen",
    "Patel",
    "Kim",
    "Tanaka",
    "Silva",
    "Andersson",
    "O'Brien",
    "Haddad",
    "Mensah",
    "Novak",
    "Jensen",
    "Moreau",
    "Fischer",
    "Costa",
    "Lopez",
    "Walker",
    "Wright",
    "Hughes",
    "Schmidt",
    "Ivanova",
    "Sato",
    "Okafor",
    "Fernández",
)
COMPANIES = (
    "Northwind Traders",
    "Blue Harbor Dental",
    "Lumen Fitness",
    "Greenleaf Landscaping",
    "Apex Roofing",
    "Brightside Tutoring",
    "Copperpot Bakery",
    "Summit Physio",
    "Harbor & Co Legal",
    "Nimbus Software",
    "Orchard Vets",
    "Pinecrest Realty",
    "Quartz Studio",
    "Riverbend Solar",
    "Sable Coffee",
    "Tidewater Yoga",
    "Urban Nest Interiors",
    "Vantage Accounting",
    "Willow Skin Clinic",
    "Zenith Motors",
    None,
    None,
    None,
)
TAGS = ("hot", "vip", "follow-up", "newsletter", "webinar", "referral", "budget-approved", "decision-maker")
CAMPAIGNS = ("spring-sale", "free-consult", "quiz-funnel-a", "quiz-funnel-b", "retargeting")
NOTES = (
    "Called, no answer. Try again tomorrow morning.",
    "Interested in the annual plan; wants a proposal by Friday.",
    "Asked for a case study from their industry.",
    "Budget confirmed with the finance lead.",
    "Prefers WhatsApp over email.",
)
# Share of leads per default stage: many new ones, fewer as the funnel narrows.
STAGE_WEIGHTS = {"New": 30, "Contacted": 20, "Qualified": 15, "Proposal": 12, "Won": 13, "Lost": 10}
SOURCE_WEIGHTS = {"quiz": 50, "manual": 25, "import": 15, "api": 10}


def _phone(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return f"+1415555{rng.randrange(100, 200):04d}"  # 555-01xx: reserved for fiction
    return f"+4420794600{rng.randrange(0, 100):02d}"  # Ofcom's numbers for drama


def _email(first: str, last: str, company: str | None, number: int) -> str:
    local = f"{first}.{last}".lower().replace("'", "").replace("ü", "u").replace("á", "a")
    local = local.replace("é", "e").replace("ñ", "n")
    domain = (company or "mail").lower().replace(" & ", "-").replace(" ", "") + ".example"
    return f"{local}{number}@{domain}"


def create_demo_leads(
    session: Session, company_id: int, *, count: int = 300, seed: int = 2024, now: datetime | None = None
) -> Iterator[str]:
    """Insert ``count`` leads into the company (the session crosses tenants)."""
    rng = random.Random(seed)
    now = now or utcnow()
    stages = list(session.scalars(select(Stage).where(Stage.company_id == company_id).order_by(Stage.position)))
    users = list(session.scalars(select(User).where(User.company_id == company_id, User.is_active.is_(True))))
    sellers = [user for user in users if user.role in ("AGENT", "MANAGER", "OWNER", "ADMIN")]
    if not stages:
        return
    weights = [STAGE_WEIGHTS.get(stage.name, 10) for stage in stages]
    rows = [_lead_row(rng, number, company_id, stages, weights, sellers, now) for number in range(count)]
    # Newest first in every column, with room between the cards.
    next_position: dict[int, int] = {}
    for row in sorted(rows, key=lambda row: row["created_at"], reverse=True):
        row["position"] = next_position.get(row["stage_id"], 0)
        next_position[row["stage_id"]] = row["position"] + GAP
    tags_of = [row.pop("_tags") for row in rows]
    ids = list(session.scalars(insert(Lead).returning(Lead.id, sort_by_parameter_order=True), rows))
    tag_rows = [
        {"company_id": company_id, "lead_id": lead_id, "tag": tag}
        for lead_id, tags in zip(ids, tags_of, strict=True)
        for tag in tags
    ]
    if tag_rows:
        session.execute(insert(LeadTag), tag_rows)
    stage_names = {stage.id: stage.name for stage in stages}
    activity = []
    notes = []
    for lead_id, row in zip(ids, rows, strict=True):
        activity.append(_activity(company_id, lead_id, "created", {"source": row["source"]}, row["created_at"]))
        if row["stage_id"] != stages[0].id:
            moved_at = row["created_at"] + timedelta(hours=rng.randrange(2, 72))
            data = {
                "from": stages[0].name,
                "to": stage_names[row["stage_id"]],
                "from_id": stages[0].id,
                "to_id": row["stage_id"],
            }
            activity.append(_activity(company_id, lead_id, "moved", data, min(moved_at, now)))
        if row["source"] == "quiz":
            answers = [
                {"question": "How big is your team?", "answer": rng.choice(("Just me", "2-10", "11-50", "50+"))},
                {
                    "question": "What is your main goal?",
                    "answer": rng.choice(("More leads", "Save time", "Better follow-up")),
                },
                {"question": "When do you want to start?", "answer": rng.choice(("Now", "This month", "Later"))},
            ]
            activity.append(
                _activity(
                    company_id, lead_id, "quiz", {"quiz": "Find your plan", "answers": answers}, row["created_at"]
                )
            )
        if rng.random() < 0.25:
            notes.append(
                {
                    "company_id": company_id,
                    "lead_id": lead_id,
                    "author_id": row["owner_id"],
                    "body": rng.choice(NOTES),
                    "created_at": min(row["created_at"] + timedelta(days=1), now),
                }
            )
    session.execute(insert(LeadActivity), activity)
    if notes:
        session.execute(insert(LeadNote), notes)
    session.flush()
    yield f"Created {count} demo leads over {len(stages)} stages."


def _activity(company_id: int, lead_id: int, kind: str, data: dict, when: datetime) -> dict:
    return {"company_id": company_id, "lead_id": lead_id, "kind": kind, "data": data, "created_at": when}


def _lead_row(
    rng: random.Random,
    number: int,
    company_id: int,
    stages: Sequence[Stage],
    weights: Sequence[int],
    sellers: Sequence[User],
    now: datetime,
) -> dict:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company = rng.choice(COMPANIES)
    source = rng.choices(list(SOURCE_WEIGHTS), weights=list(SOURCE_WEIGHTS.values()))[0]
    stage = rng.choices(list(stages), weights=weights)[0]
    created = now - timedelta(days=rng.randrange(0, 90), minutes=rng.randrange(0, 24 * 60))
    consent = source == "quiz" or rng.random() < 0.3
    row = {
        "company_id": company_id,
        "name": f"{first} {last}",
        "email": _email(first, last, company, number) if rng.random() < 0.9 else None,
        "phone": _phone(rng) if rng.random() < 0.7 else None,
        "company_name": company,
        "value": Decimal(rng.randrange(5, 250) * 100) if rng.random() < 0.75 else None,
        "source": source,
        "stage_id": stage.id,
        "owner_id": rng.choice(sellers).id if sellers and rng.random() < 0.8 else None,
        "utm_source": rng.choice(("facebook", "tiktok", "google")) if source == "quiz" else None,
        "utm_medium": "paid_social" if source == "quiz" else None,
        "utm_campaign": rng.choice(CAMPAIGNS) if source == "quiz" else None,
        "utm_term": None,
        "utm_content": None,
        "referrer": "https://www.facebook.com/" if source == "quiz" and rng.random() < 0.5 else None,
        "consent": consent,
        "consent_at": created if consent else None,
        "version": 1,
        "created_at": created,
        "updated_at": created,
        "_tags": sorted(rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2)))),
    }
    return row
