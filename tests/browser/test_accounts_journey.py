"""A demo-like user who must change the password signs in through chromium."""

from support import PASSWORD


def test_flagged_user_changes_password_then_reaches_dashboard(page, make_company, make_user):
    company = make_company(name="Demo Journey Ltd", subscription_id="demo-journey")
    make_user(company, "MANAGER", username="maya", must_change_password=True)
    page.goto("/login")
    page.fill("#subscription_id", "demo-journey")
    page.fill("#username", "maya")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/settings/password")
    assert "before you continue" in page.locator(".flash-info").inner_text()
    # Any other page leads back here until the password is changed.
    page.goto("/dashboard")
    page.wait_for_url("**/settings/password")
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", "maya")
    page.fill("#confirm_password", "maya")
    page.click("#password-form button[type=submit]")
    assert "Use at least 10 characters." in page.locator("#new_password-error").inner_text()
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", "Orbit-Journey-2031")
    page.fill("#confirm_password", "Orbit-Journey-2031")
    page.click("#password-form button[type=submit]")
    page.wait_for_url("**/dashboard")
    assert page.locator("h1").inner_text() == "Demo Journey Ltd"
    assert "Password changed" in page.locator(".flash-success").inner_text()
    # A manager sees the Users page in the menu, but not the API keys.
    assert page.get_by_role("link", name="Users", exact=True).is_visible()
    assert page.get_by_role("link", name="API keys", exact=True).count() == 0
