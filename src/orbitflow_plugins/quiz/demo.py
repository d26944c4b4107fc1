"""Demo data: two published quizzes with a fortnight of visits and submissions."""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

from sqlalchemy.orm import Session
from webob.multidict import MultiDict

from orbitflow.config import DEFAULT_PHONE_REGION
from orbitflow.leads.services import AuditInfo
from orbitflow.models.meta import utcnow
from orbitflow.tenants.models import Company
from orbitflow_plugins.quiz import services
from orbitflow_plugins.quiz.answers import read_answers
from orbitflow_plugins.quiz.models import MULTIPLE, NUMBER, RATING, SINGLE, TEXT, Quiz, QuizFunnelEvent
from orbitflow_plugins.quiz.submissions import Draft, Tracking, completion_events, funnel_event, store_submission

PLAN_QUIZ = {
    "title": "Which plan fits your team?",
    "slug": "find-your-plan",
    "intro": "Five quick questions and we will suggest the plan that fits how your team sells.",
    "brand_color": "#4f46e5",
    "thank_you_message": "Thanks! One of our advisers will send you a tailored offer within a day.",
    "questions": [
        {
            "kind": SINGLE,
            "text": "How many people sell in your team?",
            "required": True,
            "options": [
                {"label": "Just me", "score": 0},
                {"label": "2 to 10", "score": 10},
                {"label": "More than 10", "score": 20},
            ],
        },
        {
            "kind": MULTIPLE,
            "text": "Where do your leads come from?",
            "required": True,
            "options": [
                {"label": "Facebook ads", "score": 5},
                {"label": "TikTok ads", "score": 5},
                {"label": "Referrals", "score": 2},
                {"label": "Cold outreach", "score": 1},
            ],
        },
        {
            "kind": NUMBER,
            "text": "How many new leads do you get per month?",
            "required": False,
            "min_value": "0",
            "max_value": "100000",
        },
        {"kind": RATING, "text": "How happy are you with your current CRM?", "required": True, "max_value": "5"},
        {"kind": TEXT, "text": "Anything else we should know?", "required": False},
    ],
    "outcomes": [
        {
            "title": "Starter",
            "description": "Simple pipeline, one quiz, room to grow.",
            "min_score": None,
            "max_score": 12,
        },
        {
            "title": "Professional",
            "description": "Several quizzes, pixels and analytics.",
            "min_score": 13,
            "max_score": 30,
        },
        {
            "title": "Enterprise",
            "description": "Unlimited quizzes and a dedicated adviser.",
            "min_score": 31,
            "max_score": None,
        },
    ],
}

SOLAR_QUIZ = {
    "title": "Is your roof right for solar?",
    "slug": "solar-check",
    "intro": "Find out in under a minute whether solar panels pay off for your home.",
    "brand_color": "#f59e0b",
    "contact_phone": "required",
    "contact_email": "optional",
    "thank_you_message": "Thank you! We will call you to book a free roof survey.",
    "questions": [
        {
            "kind": SINGLE,
            "text": "Do you own your home?",
            "required": True,
            "options": [{"label": "Yes", "score": 10}, {"label": "No", "score": 0}],
        },
        {
            "kind": SINGLE,
            "text": "Which way does your roof face?",
            "required": True,
            "options": [
                {"label": "South", "score": 10},
                {"label": "East or west", "score": 6},
                {"label": "North", "score": 1},
                {"label": "Not sure", "score": 4},
            ],
        },
        {
            "kind": NUMBER,
            "text": "Your monthly electricity bill (USD)?",
            "required": True,
            "min_value": "0",
            "max_value": "5000",
        },
    ],
    "outcomes": [
        {"title": "Great fit", "description": "Your home looks ideal for solar.", "min_score": 15, "max_score": None},
        {
            "title": "Worth a look",
            "description": "Solar could still pay off: let us check.",
            "min_score": None,
            "max_score": 14,
        },
    ],
}

FIRST = ["Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Sofia", "Leo", "Zoe", "Omar"]
LAST = ["Garcia", "Smith", "Nguyen", "Khan", "Rossi", "Müller", "Dubois", "Kowalski", "Silva", "Jones"]
CAMPAIGNS = [("facebook", "cpc", "spring-sale"), ("tiktok", "cpc", "video-01"), ("newsletter", "email", "april")]


def _create(session: Session, company: Company, spec: dict) -> Quiz:
    settings = {key: value for key, value in spec.items() if key not in ("questions", "outcomes")}
    quiz = services.create_quiz(session, company, settings, actor_id=None)
    services.replace_definition(session, company, quiz, spec["questions"], spec["outcomes"])
    services.publish(session, company, quiz)
    return services.load_quiz(session, quiz.id)


def _answers(quiz: Quiz, rng: random.Random, person: int) -> MultiDict:
    form = MultiDict()
    for question in quiz.questions:
        if question.kind == SINGLE:
            form.add(question.field_name, str(rng.choice(question.options).id))
        elif question.kind == MULTIPLE:
            for option in rng.sample(question.options, rng.randint(1, 2)):
                form.add(question.field_name, str(option.id))
        elif question.kind == NUMBER:
            form.add(question.field_name, str(rng.randint(20, 400)))
        elif question.kind == RATING:
            form.add(question.field_name, str(rng.randint(1, question.rating_scale)))
        elif question.kind == TEXT and rng.random() < 0.5:
            form.add(
                question.field_name, rng.choice(["Call me after 5pm", "We use spreadsheets today", "Need it fast"])
            )
    first, last = FIRST[person % len(FIRST)], LAST[person % len(LAST)]
    form.add("name", f"{first} {last}")
    form.add("email", f"{first.lower()}.{last.lower().replace('ü', 'u')}@example.com")
    form.add("phone", f"+1 415 555 {1000 + person:04d}")
    form.add("consent", "on")
    return form


def create_demo_quizzes(session: Session, company: Company) -> list[str]:
    if not company.privacy_policy_url:
        company.privacy_policy_url = "https://www.example.com/privacy"
    rng = random.Random(42)
    now = utcnow()
    region = company.phone_region or DEFAULT_PHONE_REGION  # the demo's numbers carry +1 anyway
    lines = []
    for spec, submissions in ((PLAN_QUIZ, 12), (SOLAR_QUIZ, 8)):
        quiz = _create(session, company, spec)
        for number in range(submissions * 3):
            when = now - timedelta(days=rng.randint(0, 13), minutes=rng.randint(0, 1440))
            source, medium, campaign = rng.choice(CAMPAIGNS)
            tracking = Tracking({"utm_source": source, "utm_medium": medium, "utm_campaign": campaign})
            nonce = secrets.token_urlsafe(12)
            session.add(
                QuizFunnelEvent(
                    **funnel_event(company.id, quiz.id, nonce, "view", tracking, None, created_at=when).row()
                )
            )
            if number >= submissions:
                continue
            # Every fifth visitor answers a second time with the same address.
            person = number - 1 if number % 5 == 4 else number
            result = read_answers(quiz, _answers(quiz, rng, person), phone_region=region)
            draft = Draft.of(
                quiz,
                nonce,
                result,
                tracking,
                fill_seconds=rng.randint(20, 120),
                created_at=when + timedelta(seconds=60),
            )
            store_submission(session, draft, secret=None, audit_info=AuditInfo(actor_name=f"quiz:{quiz.slug}"))
            session.add_all(QuizFunnelEvent(**e.row()) for e in completion_events(draft, lambda *_: True))
        session.flush()
        lines.append(f"Published demo quiz /q/{company.subscription_id}/{quiz.slug} with {submissions} submissions.")
    return lines
