"""The main pages pass axe-core's checks with no serious or critical violation, signed in
as every role (and as a visitor, for the sign-in and public quiz pages), on a laptop
(1366x768) and on a phone (390x844). axe-core is vendored under tests/browser/vendor: it
is for the tests only, never served."""

from __future__ import annotations

import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from analyticskit import Kit
from orbitflow.models.meta import utcnow
from support import PASSWORD

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quiz"))

from quizkit import make_quiz, public_path

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
LAPTOP = {"viewport": {"width": 1366, "height": 768}}
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True}
SIZES = {"laptop": LAPTOP, "phone": PHONE}

# Every rule axe runs by default (WCAG 2.0-2.2 A/AA and best practices); the test fails
# on the two highest impacts, the ones that stop someone from using the page.
RUN_AXE = """async () => {
    const result = await axe.run(document, {resultTypes: ['violations']});
    return result.violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary || ''})),
        }));
}"""

# The pages, by name; paths are filled from the arranged data.
PAGES = {
    "dashboard": "/dashboard",
    "board": "/pipeline",
    "leads list": "/leads",
    "lead page": "/leads/{lead}",
    "new lead": "/leads/new",
    "stages": "/pipeline/stages",
    "users": "/settings/users",
    "new user": "/settings/users/new",
    "profile": "/settings/profile",
    "password": "/settings/password",
    "audit log": "/audit",
    "quiz list": "/quizzes",
    "quiz builder": "/quizzes/{quiz}",
    "question editor": "/quizzes/{quiz}/questions/{question}",
    "quiz submissions": "/quizzes/{quiz}/submissions",
    "analytics": "/analytics",
    "analytics funnel": "/analytics/quizzes/{quiz}",
    "webhooks": "/settings/webhooks",
    "pixels": "/settings/pixels",
    "region and currency": "/settings/region",
    "companies": "/admin/companies",
    "new company": "/admin/companies/new",
    "company": "/admin/companies/{company}",
    "company edit": "/admin/companies/{company}/edit",
    "company new user": "/admin/companies/{company}/users/new",
    "user password": "/admin/companies/{company}/users/{owner}/password",
    "platform audit log": "/admin/audit",
    "system log": "/admin/system-log",
    "platform overview": "/admin/overview",
    "sign-in": "/login",
    "forgotten password": "/password/forgot",
    "public quiz": "{public_quiz}",
}
_EVERY_COMPANY_ROLE = ("dashboard", "board", "leads list", "lead page", "profile", "password", "quiz list")
_SELLER = (*_EVERY_COMPANY_ROLE, "new lead", "quiz builder")
_MANAGER = (*_SELLER, "users", "question editor", "quiz submissions", "analytics", "analytics funnel")
_ADMIN = (*_MANAGER, "new user", "stages", "audit log", "webhooks", "pixels", "region and currency")
# What each role opens (the pages its navigation and permissions offer it).
ROLE_PAGES = {
    "owner": _ADMIN,
    "admin": _ADMIN,
    "manager": _MANAGER,
    "agent": _SELLER,
    "viewer": (*_EVERY_COMPANY_ROLE, "quiz builder"),
    "super admin": (
        "dashboard",
        "profile",
        "companies",
        "new company",
        "company",
        "company edit",
        "company new user",
        "user password",
        "platform audit log",
        "system log",
        "platform overview",
    ),
    "visitor": ("sign-in", "forgotten password", "public quiz"),
}
CASES = [(role, size) for role in ROLE_PAGES for size in SIZES]


@pytest.fixture(scope="session", params=["sqlite"])
def backend_name(request) -> str:
    """On SQLite only: the markup axe checks is the same on either database, and the walk
    of every role's pages at two sizes is the suite's longest browser test."""
    return request.param


@pytest.fixture
def arranged(db, wsgi_app, make_company, make_user, platform):
    """A company with a user of every role, leads in every stage (one assigned to the agent,
    so every role may open it), a published quiz with a few visits, and a super admin."""
    company = make_company(name="Acme Demo Ltd", plan="PROFESSIONAL")
    users = {
        "owner": make_user(company, "OWNER", username="olivia", name="Olivia Owner", email="olivia@demo.example"),
        "admin": make_user(company, "ADMIN", username="adam", name="Adam Admin"),
        "manager": make_user(company, "MANAGER", username="maya", name="Maya Manager"),
        "agent": make_user(company, "AGENT", username="alex", name="Alex Agent"),
        "viewer": make_user(company, "VIEWER", username="victor", name="Victor Viewer"),
        "super admin": make_user(platform, "SUPER_ADMIN", username="root", name="Rita Root"),
    }
    kit = Kit(db, wsgi_app)
    now = utcnow()
    quiz = make_quiz(db, company)
    lead = kit.lead(
        company,
        now - timedelta(hours=2),
        name="Priya Patel",
        email="priya@northwind.example",
        phone="+44 20 7946 0000",
        company_name="Northwind Traders",
        value=Decimal("12500.00"),
        source="quiz",
        owner_id=users["agent"].id,
        utm={"source": "facebook", "campaign": "spring-sale"},
    )
    for index, stage in enumerate(("Contacted", "Qualified", "Won")):
        other = kit.lead(company, now - timedelta(days=index + 1), name=f"Lead {index}", source="manual")
        kit.move(other, company, stage)
    kit.visit(quiz, "a", now, 3, complete=True)
    kit.visit(quiz, "b", now, 1, device="desktop")
    kit.flush()
    paths = {
        "lead": lead.id,
        "quiz": quiz.id,
        "question": quiz.questions[0].id,
        "company": company.id,
        "owner": users["owner"].id,
        "public_quiz": public_path(company, quiz),
    }
    subscriptions = {role: (company if role != "super admin" else platform).subscription_id for role in users}
    return users, subscriptions, paths


def sign_in(page, subscription_id: str, username: str) -> None:
    page.goto("/login")
    page.fill("#subscription_id", subscription_id)
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard")


def axe_violations(page, where: str) -> list[str]:
    """axe's serious and critical violations on the page as it is now, one readable entry
    each: the rule, its impact and help, and the first few elements with what to fix."""
    page.add_script_tag(content=AXE)
    found = []
    for violation in page.evaluate(RUN_AXE):
        lines = [f"{where}: {violation['id']} ({violation['impact']}) {violation['help']}"]
        for node in violation["nodes"][:4]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    {node['target']}: {summary[:300]}")
        if len(violation["nodes"]) > 4:
            lines.append(f"    ... and {len(violation['nodes']) - 4} more")
        found.append("\n".join(lines))
    return found


def quiz_steps_violations(page, where: str) -> list[str]:
    """The public quiz shows one question at a time: axe checks each step as a visitor
    reaches it (the first also with its "answer this question" error), up to the contact
    step."""
    found = []
    page.get_by_role("button", name="Next").click()
    found += axe_violations(page, f"{where}, step 1 unanswered")
    for number in range(1, 20):
        step = page.locator("[data-step]:not([data-inactive])")
        if number > 1:
            found += axe_violations(page, f"{where}, step {number}")
        if step.get_attribute("data-contact") is not None:
            return found
        kind = step.get_attribute("data-kind")
        if kind in ("single", "multiple"):
            step.locator(".quiz-choice").first.click()
        elif kind == "rating":
            step.locator(".quiz-star").last.click()
        else:
            step.locator("input.quiz-input").fill("10")
        page.get_by_role("button", name="Next").click()
    raise AssertionError(f"{where}: the contact step never came")


@pytest.mark.parametrize(("role", "size"), CASES, ids=[f"{role.replace(' ', '-')}-{size}" for role, size in CASES])
def test_main_pages_have_no_serious_accessibility_violation(new_page, arranged, role, size):
    users, subscriptions, paths = arranged
    # axe is injected as an inline script, which the pages' strict CSP (nonce-only
    # scripts) rightly refuses; this test's browser alone is told to ignore the CSP.
    page = new_page(**SIZES[size], bypass_csp=True)
    if role != "visitor":
        sign_in(page, subscriptions[role], users[role].username)
    found = []
    for name in ROLE_PAGES[role]:
        path = PAGES[name].format(**paths)
        response = page.goto(path)
        assert response is not None and response.status == 200, f"{name} ({path}): {response and response.status}"
        found += axe_violations(page, f"{name} ({path})")
        if name == "public quiz":
            found += quiz_steps_violations(page, name)
        if name == "dashboard" and size == "phone":
            # The folded navigation, opened.
            page.get_by_text("Menu", exact=True).click()
            found += axe_violations(page, f"{name} ({path}), menu open")
    assert not found, f"{len(found)} serious or critical accessibility violations:\n" + "\n".join(found)
