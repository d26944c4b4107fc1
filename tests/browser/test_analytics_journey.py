"""Analytics in a real browser: the dashboard and a quiz funnel draw their charts (one
canvas each, painted) with no console error and no CSP violation, and their tables show
what the API answers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analyticskit import Kit
from orbitflow.models.meta import utcnow
from support import PASSWORD


@pytest.fixture
def signed_in(page, make_company, make_user, db, wsgi_app):
    company = make_company(name="Chart Co", time_zone="Europe/Berlin")
    owner = make_user(company, "OWNER", username="olga", name="Olga Owner")
    kit = Kit(db, wsgi_app)
    now = utcnow()
    for index, source in enumerate(("manual", "api", "manual")):
        kit.lead(company, now - timedelta(hours=index + 1), name=f"Lead {index}", source=source, utm={"source": "fb"})
    quiz = kit.quiz(company, "Find your plan")
    kit.visit(quiz, "a", now, 3, complete=True)
    kit.visit(quiz, "b", now, 1, device="desktop")
    kit.flush()
    page.problems = []
    page.on("console", lambda message: message.type in ("error", "warning") and page.problems.append(message.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.goto("/login")
    page.fill("#subscription_id", company.subscription_id)
    page.fill("#username", owner.username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")
    return page, quiz


def painted(page, name: str) -> bool:
    """The chart's canvas exists and Chart.js drew on it (some pixel is not blank)."""
    return page.evaluate(
        """(name) => {
            const canvas = document.querySelector(`canvas[data-chart="${name}"]`);
            if (!canvas || !window.Chart || !window.Chart.getChart(canvas)) return false;
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) return true; }
            return false;
        }""",
        name,
    )


def table(page, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"{selector} tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))"
    )


def test_dashboard_and_funnel_draw_their_charts_and_match_the_api(signed_in):
    page, quiz = signed_in
    page.on("request", lambda request: "cdn" in request.url and page.problems.append(request.url))
    page.get_by_role("link", name="Analytics", exact=True).click()
    page.wait_for_url("**/analytics")
    for name in ("leads_over_time", "pipeline", "by_source", "by_quiz", "by_campaign", "by_owner"):
        assert painted(page, name), name
    api = page.evaluate("fetch('/api/v1/analytics/summary?preset=30').then(r => r.json())")
    assert table(page, "#table-by_source") == [
        [row["source"], str(row["leads"]), str(row["won"]), f"${row['won_value']:,.2f}"] for row in api["by_source"]
    ]
    assert page.inner_text('[data-kpi="leads"]') == str(api["leads"]) == "3"

    page.click(f'a[href*="/analytics/quizzes/{quiz.id}"]')
    page.wait_for_selector("#table-questions")
    for name in ("questions", "devices"):
        assert painted(page, name), name
    funnel = page.evaluate(f"fetch('/api/v1/analytics/quizzes/{quiz.id}/funnel?preset=30').then(r => r.json())")
    assert table(page, "#table-questions") == [
        [q["title"], str(q["reached"]), str(q["answered"]), str(q["dropped"])] for q in funnel["questions"]
    ]
    assert funnel["views"] == 2
    # On a phone-sized window the analytics blocks stay inside the screen (tables scroll
    # inside their own box). The shared navigation bar is the layout's business.
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"/analytics/quizzes/{quiz.id}")
    page.goto("/analytics")
    overflow = page.evaluate(
        """() => [...document.querySelectorAll('.kpis, .analytics-grid, .analytics-chart, .chart-box')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.className)"""
    )
    assert overflow == []
    assert page.problems == []
