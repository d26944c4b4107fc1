"""The super admin journey in chromium: a new company, its owner, the owner's first agent,
and all of it in both audit logs."""

from __future__ import annotations

import re

from support import PASSWORD

OWNER_FIRST_PASSWORD = "Owner-First-2026"
OWNER_PASSWORD = "Owner-Own-Choice-77"
AGENT_PASSWORD = "Agent-Start-2026"


def sign_in(page, subscription_id: str, username: str, password: str) -> None:
    page.goto("/login")
    page.fill("#subscription_id", subscription_id)
    page.fill("#username", username)
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in").click()


def audit_actions(page) -> list[str]:
    return page.locator("table.audit tbody code").all_inner_texts()


def test_super_admin_creates_a_company_whose_owner_adds_an_agent(page, new_page, platform, make_user):
    make_user(platform, "SUPER_ADMIN", username="root")

    # The super admin creates the company with a plan...
    sign_in(page, "platform", "root", PASSWORD)
    page.wait_for_url("**/dashboard")
    page.get_by_role("link", name="Super admin").click()
    page.wait_for_url("**/admin/companies")
    page.get_by_role("link", name="Add company").click()
    page.fill("#name", "Nimbus Labs")
    page.fill("#subscription_id", "nimbus")
    page.select_option("#plan", "PROFESSIONAL")
    page.get_by_role("button", name="Create company").click()

    # ...and lands on the form for its owner, who must choose a password at first sign-in.
    page.wait_for_url(re.compile(r".*/admin/companies/\d+/users/new\?role=OWNER$"))
    assert "Company Nimbus Labs created. Now create its owner." in page.locator(".flash").inner_text()
    assert page.locator("#role").input_value() == "OWNER"
    page.fill("#username", "nina")
    page.fill("#name", "Nina Nimbus")
    page.fill("#email", "nina@example.com")
    page.fill("#password", OWNER_FIRST_PASSWORD)
    page.fill("#confirm_password", OWNER_FIRST_PASSWORD)
    assert page.locator("input[name=must_change_password]").is_checked()
    page.get_by_role("button", name="Create user").click()
    page.wait_for_url(re.compile(r".*/admin/companies/\d+$"))
    assert "User nina (OWNER) created in Nimbus Labs." in page.locator(".flash").inner_text()
    row = page.locator("table.users tbody tr", has_text="nina")
    assert "must change password" in row.inner_text()
    assert "PROFESSIONAL" in page.locator("dl.facts").inner_text()

    # The owner signs in in another browser and must choose a new password first.
    owner = new_page()
    sign_in(owner, "nimbus", "nina", OWNER_FIRST_PASSWORD)
    owner.wait_for_url("**/settings/password")
    owner.fill("#current_password", OWNER_FIRST_PASSWORD)
    owner.fill("#new_password", OWNER_PASSWORD)
    owner.fill("#confirm_password", OWNER_PASSWORD)
    owner.get_by_role("button", name="Change password").click()
    owner.wait_for_url("**/dashboard")
    assert owner.locator("h1").inner_text() == "Nimbus Labs"

    # Settings → Users: the owner adds an agent.
    owner.get_by_role("link", name="Users", exact=True).click()
    owner.wait_for_url("**/settings/users")
    owner.get_by_role("link", name="Add user").click()
    owner.fill("#username", "andy")
    owner.fill("#name", "Andy Agent")
    owner.fill("#email", "andy@example.com")
    owner.select_option("#role", "AGENT")
    owner.fill("#password", AGENT_PASSWORD)
    owner.get_by_role("button", name="Create user").click()
    owner.wait_for_url("**/settings/users")
    assert "User andy created." in owner.locator(".flash").inner_text()

    # The company's audit log holds the company, both users and the password change.
    owner.get_by_role("link", name="Audit log", exact=True).click()
    owner.wait_for_url("**/audit")
    actions = audit_actions(owner)
    assert actions.count("user.create") == 2
    assert {"company.create", "auth.login", "auth.password_change"} <= set(actions)
    agent_row = owner.locator("table.audit tbody tr", has_text="user.create").first
    assert "nina" in agent_row.inner_text()  # the newest user.create: the owner adding andy
    assert "andy" in agent_row.inner_text()

    # The super admin sees the same entries in the platform-wide log, by company.
    page.locator("nav.subnav").get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/admin/audit")
    page.select_option("#f-company", label="Nimbus Labs (nimbus)")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r".*/admin/audit\?.*company_id=\d+"))
    assert audit_actions(page) == actions
    companies = page.locator("table.audit tbody tr td:nth-child(2)").all_inner_texts()
    assert set(companies) == {"nimbus"}
