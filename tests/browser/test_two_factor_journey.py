"""A person turns on two-factor sign-in in chromium, then signs in with a code from the app
and, another time, with a recovery code."""

from __future__ import annotations

import time

import pyotp

from support import PASSWORD


def sign_in_with_password(page, company, user) -> None:
    page.goto("/login")
    page.fill("#subscription_id", company.subscription_id)
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")


def sign_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")


def test_enrol_then_sign_in_with_a_code_and_with_a_recovery_code(page, make_company, make_user):
    company = make_company(name="Orbit Journey")
    user = make_user(company, "AGENT", username="sam")
    sign_in_with_password(page, company, user)
    page.wait_for_url("**/dashboard")

    # Profile → set up: a QR code drawn on the page, and the key in text.
    page.goto("/settings/profile")
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    assert page.locator("#two-factor-qr svg").is_visible()
    secret = page.locator("#two-factor-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.fill("#confirm-code", totp.now())
    page.get_by_role("button", name="Turn on").click()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I have saved them").click()
    assert page.locator("#two-factor-on").is_visible()
    sign_out(page)

    # The password alone does not sign in: the code page follows.
    sign_in_with_password(page, company, user)
    page.wait_for_url("**/login/two-factor")
    page.goto("/dashboard")
    page.wait_for_url("**/login**")
    sign_in_with_password(page, company, user)
    page.wait_for_url("**/login/two-factor")
    # The enrolment used this step's code: the app's next one is accepted (clock drift).
    page.fill("#code", totp.at(time.time() + 30))
    page.click("#two-factor-form button[type=submit]")
    page.wait_for_url("**/dashboard")
    assert page.locator("h1").inner_text() == "Orbit Journey"
    sign_out(page)

    sign_in_with_password(page, company, user)
    page.wait_for_url("**/login/two-factor")
    page.fill("#code", codes[0])
    page.click("#two-factor-form button[type=submit]")
    page.wait_for_url("**/dashboard")
    assert "9 left" in page.locator(".flash").first.inner_text()
