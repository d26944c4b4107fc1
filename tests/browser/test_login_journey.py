"""A person signs in through the real login page in chromium."""

from support import PASSWORD


def test_owner_signs_in_and_reaches_dashboard(page, make_company, make_user):
    company = make_company(name="Journey Co")
    owner = make_user(company, "OWNER", username="jane")
    page.goto("/login")
    page.fill("#subscription_id", company.subscription_id)
    page.fill("#username", owner.username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")
    assert page.locator("h1").inner_text() == "Journey Co"
    assert page.get_by_role("link", name="Dashboard").is_visible()
