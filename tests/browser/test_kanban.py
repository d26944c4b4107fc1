"""The pipeline in a real browser: create a lead, drag it to another column with the
mouse, move it with the keyboard, reload and find it where it was put."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orbitflow.leads.models import Lead, Stage
from support import PASSWORD


@pytest.fixture
def signed_in_page(page, make_company, make_user):
    company = make_company(name="Board Co")
    owner = make_user(company, "OWNER", username="olga", name="Olga Owner")
    page.goto("/login")
    page.fill("#subscription_id", company.subscription_id)
    page.fill("#username", owner.username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")
    page.problems = []
    page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    return page, company


def _stages(db, company):
    return db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)).all()


def _column(page, stage):
    return page.locator(f'.kcol-cards[data-stage-id="{stage.id}"]')


def test_create_lead_drag_it_to_another_column_and_find_it_after_reload(signed_in_page, db):
    page, company = signed_in_page
    stages = _stages(db, company)
    page.get_by_role("link", name="Pipeline", exact=True).click()
    page.get_by_role("link", name="New lead").click()
    page.fill("#f-name", "Dragged Dora")
    page.fill("#f-email", "dora@example.com")
    page.fill("#f-value", "2500")
    page.click("button:has-text('Create lead')")
    page.wait_for_selector(".flash:has-text('Lead Dragged Dora created.')")
    page.goto("/pipeline")
    card = _column(page, stages[0]).locator(".kcard", has_text="Dragged Dora")
    assert card.count() == 1
    target = _column(page, stages[2])
    card.drag_to(target)
    page.wait_for_selector("#board-status:has-text('Moved Dragged Dora to Qualified')")
    qualified = page.locator(f'.kcol[data-stage-id="{stages[2].id}"]')
    assert qualified.locator(".kcol-count").inner_text() == "1"
    assert "2,500.00" in qualified.locator(".kcol-total").inner_text()
    page.reload()
    assert _column(page, stages[2]).locator(".kcard", has_text="Dragged Dora").count() == 1
    assert _column(page, stages[0]).locator(".kcard", has_text="Dragged Dora").count() == 0
    db.expire_all()
    lead = db.scalars(select(Lead).where(Lead.name == "Dragged Dora")).one()
    assert (lead.stage_id, lead.version) == (stages[2].id, 2)
    assert page.problems == []


def test_keyboard_moves_a_card_and_a_stale_card_is_refreshed(signed_in_page, db, new_page):
    page, company = signed_in_page
    stages = _stages(db, company)
    for name in ("Kay Keys", "Other One"):
        db.add(Lead(company_id=company.id, name=name, stage_id=stages[0].id, position=0 if name == "Kay Keys" else 1))
    db.commit()
    page.goto("/pipeline")
    card = _column(page, stages[0]).locator(".kcard", has_text="Kay Keys")
    card.focus()
    page.keyboard.press("Space")
    page.wait_for_selector("#board-status:has-text('Picked up Kay Keys')")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    page.wait_for_selector("#board-status:has-text('Moved Kay Keys to Qualified')")
    card = _column(page, stages[2]).locator(".kcard", has_text="Kay Keys")
    assert card.count() == 1
    # Shift+Arrow moves at once; the move buttons do the same for touch and pointer users.
    card.focus()
    page.keyboard.press("Shift+ArrowLeft")
    page.wait_for_selector("#board-status:has-text('Moved Kay Keys to Contacted')")
    # Someone else moves the card meanwhile: this board's next move hears 409 and shows theirs.
    lead = db.scalars(select(Lead).where(Lead.name == "Kay Keys")).one()
    db.expire_all()
    lead = db.get(Lead, lead.id)
    lead.stage_id = stages[4].id
    lead.version += 1
    db.commit()
    card = _column(page, stages[1]).locator(".kcard", has_text="Kay Keys")
    card.hover()
    card.locator("button[data-move='right']").click()
    page.wait_for_selector("#board-status:has-text('changed by someone else')")
    page.wait_for_selector(f'.kcol-cards[data-stage-id="{stages[4].id}"] .kcard:has-text("Kay Keys")')
    assert _column(page, stages[2]).locator(".kcard", has_text="Kay Keys").count() == 0
    page.reload()
    assert _column(page, stages[4]).locator(".kcard", has_text="Kay Keys").count() == 1
    # The browser logs the refused move itself; nothing else went wrong.
    assert [problem for problem in page.problems if "409 (Conflict)" not in problem] == []
