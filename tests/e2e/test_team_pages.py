"""Teams in the browser: the workspace switcher, the team page (invite, resend, revoke, refusals), the
invitation page, what a member sees, and an open tab losing access the moment its user is removed.

Screenshots land in var/screenshots/team-*.png at 1280x800 and 390x844.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from e2e_helpers import (
    LiveApp,
    axe_violations,
    confirm_link,
    link_of,
    request_link,
    screenshot,
    too_wide,
    url_re,
)
from e2e_renders import SHORT_SCENES, create_render
from page_objects import Mailbox, by_testid
from playwright.sync_api import Page, expect
from team_flows import INVITE_RE

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _set_plan(live_app: LiveApp, email: str, plan: str) -> None:
    """Put the workspace `email` signed up with on `plan` (test set-up: no Checkout)."""
    with live_app.db() as db:
        db.execute("UPDATE tenant SET plan = ? WHERE id IN (SELECT m.tenant_id FROM membership m JOIN user u "
                   "ON u.id = m.user_id WHERE u.email = ?)", (plan, email))


def _open_team(page: Page) -> None:
    page.goto("/team")
    expect(page.get_by_role("heading", name="Team", exact=True)).to_be_visible()
    expect(by_testid(page, "member-row").first).to_be_visible()


def _invite(page: Page, address: str, role: str = "member") -> None:
    by_testid(page, "invite-email").fill(address)
    by_testid(page, "invite-role").select_option(role)
    by_testid(page, "invite-submit").click()


def _invitation_link(mailbox: Mailbox, address: str, count: int = 1) -> str:
    message = mailbox.wait_for(address, count=count)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = INVITE_RE.search(body.get_content())
    assert found, "the invitation email has no /invite link"
    return found.group(1)


def _check_page(page: Page, name: str) -> None:
    """No serious axe violation; screenshots at both sizes; nothing wider than a phone."""
    assert (found := axe_violations(page)) == [], json.dumps(found, indent=1)
    for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.evaluate("() => document.fonts.ready")
        screenshot(page, f"team-{size_name}-{name}")
        if size is PHONE:
            assert not (offenders := too_wide(page)), offenders
    page.set_viewport_size(DESKTOP)


def test_the_switcher_lists_creates_and_switches_workspaces(signed_in_page: Page, email: str) -> None:
    page = signed_in_page
    page.set_viewport_size(DESKTOP)
    switcher = by_testid(page, "workspace-switcher")
    personal = f"{email.split('@')[0]}'s workspace"
    expect(switcher).to_contain_text(personal)
    expect(by_testid(page, "workspace-role")).to_have_text("Owner")
    switcher.press("Enter")  # keyboard: the menu opens and lists the workspaces
    expect(by_testid(page, "workspace-option")).to_have_count(1)
    expect(by_testid(page, "workspace-option").first).to_be_focused()
    page.keyboard.press("End")
    expect(page.get_by_role("menuitem", name="Create workspace")).to_be_focused()
    page.keyboard.press("Enter")  # "Create workspace" by keyboard: focus goes into the dialog, to the name
    dialog = page.get_by_role("dialog")
    expect(by_testid(page, "new-workspace-name")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # Tab stays in the dialog
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(switcher).to_be_focused()  # and comes back to the switcher
    switcher.click()
    page.get_by_role("menuitem", name="Create workspace").click()
    dialog.get_by_role("button", name="Create workspace").click()
    expect(by_testid(page, "create-workspace-error")).to_have_text("Give the workspace a name of 1 to 80 characters.")
    screenshot(page, "team-desktop-create-workspace")
    by_testid(page, "new-workspace-name").fill("Beta Studio")
    dialog.get_by_role("button", name="Create workspace").click()
    expect(page).to_have_url(url_re("/create"))
    expect(switcher).to_contain_text("Beta Studio")

    switcher.click()
    options = by_testid(page, "workspace-option")
    expect(options).to_have_count(2)
    expect(options.filter(has_text="Beta Studio")).to_have_attribute("data-current", "yes")
    expect(options.filter(has_text=personal)).to_contain_text("Owner · Free")
    options.filter(has_text=personal).click()
    expect(switcher).to_contain_text(personal)
    page.set_viewport_size(PHONE)
    box = switcher.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    screenshot(page, "team-phone-switcher")


def test_the_team_page_invites_resends_and_revokes(signed_in_page: Page, email: str, live_app: LiveApp,
                                                  mailbox: Mailbox) -> None:
    page = signed_in_page
    page.set_viewport_size(DESKTOP)
    by_testid(page, "nav-team").click()
    expect(page.get_by_role("heading", name="Team", exact=True)).to_be_visible()
    expect(by_testid(page, "member-row")).to_have_count(1)
    expect(by_testid(page, "member-row")).to_contain_text("You")
    expect(by_testid(page, "seats-line")).to_have_text("1 of 1 seat used on Free")
    expect(by_testid(page, "invites-empty")).to_have_text("No pending invitations.")
    expect(by_testid(page, "leave-workspace")).to_be_disabled()  # said before, not after a dialog
    expect(by_testid(page, "leave-blocked")).to_have_text(
        "You are the only member of this workspace, so you cannot leave it. Delete the workspace instead.")

    _invite(page, "not-an-address")
    expect(by_testid(page, "invite-error")).to_contain_text("email")
    _invite(page, "friend@example.com")
    expect(by_testid(page, "invite-error")).to_contain_text("Free plan has 1 seat")
    expect(by_testid(page, "invite-upgrade")).to_have_attribute("href", "/billing")
    _check_page(page, "seats-refused")

    _set_plan(live_app, email, "pro")
    _open_team(page)
    expect(by_testid(page, "seats-line")).to_have_text("1 of 5 seats used on Pro")
    _invite(page, "friend@example.com", "admin")
    expect(by_testid(page, "team-message")).to_have_text("Invitation sent to friend@example.com.")
    assert "/invite?token=" in _invitation_link(mailbox, "friend@example.com")
    row = by_testid(page, "invite-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Admin")
    expect(by_testid(page, "seats-line")).to_have_text("2 of 5 seats used on Pro")
    _check_page(page, "invitations")

    row.get_by_role("button", name="Resend the invitation to friend@example.com").click()
    expect(by_testid(page, "team-message")).to_have_text("Invitation sent again.")
    mailbox.wait_for("friend@example.com", count=2)

    revoke = row.get_by_role("button", name="Revoke the invitation to friend@example.com")
    revoke.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Revoke this invitation?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(revoke).to_be_focused()  # back on the button that opened it
    expect(row).to_have_count(1)  # nothing happened
    row.get_by_role("button", name="Revoke the invitation to friend@example.com").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Revoke").click()
    expect(by_testid(page, "team-message")).to_have_text("The invitation to friend@example.com was revoked.")
    expect(by_testid(page, "invites-empty")).to_be_visible()


def _accept_invitation(page: Page, live_app: LiveApp, link: str, address: str, workspace: str) -> None:
    """Signed out: open the link, sign in as the invited address (the magic link brings the browser back),
    and accept."""
    page.goto(link)
    expect(by_testid(page, "invite-workspace")).to_have_text(workspace)
    expect(by_testid(page, "invite-address")).to_have_text(address)
    expect(by_testid(page, "invite-role")).to_have_text("Member")
    _check_page(page, "invitation-signed-out")
    by_testid(page, "invite-sign-in").click()
    expect(page).to_have_url(url_re("/login"))
    expect(page.locator("#email")).to_have_value(address)
    confirm_link(page, link_of(request_link(page, live_app, address)), address)
    expect(page).to_have_url(re.compile(r"/invite/?\?token="))
    accept = by_testid(page, "invite-accept")
    expect(accept).to_have_text(f"Accept and open {workspace}")
    assert axe_violations(page) == []
    accept.click()
    expect(page).to_have_url(url_re("/library"))
    expect(by_testid(page, "workspace-current")).to_have_text(workspace)


def test_an_invited_member_joins_sees_what_a_member_may_and_loses_access_when_removed(
        signed_in_page: Page, email: str, live_app: LiveApp, mailbox: Mailbox,
        new_page: Callable[[], Page]) -> None:
    owner = signed_in_page
    owner.set_viewport_size(DESKTOP)
    workspace = f"{email.split('@')[0]}'s workspace"
    _set_plan(live_app, email, "pro")
    render_id = create_render(owner, "The owner's volcano video", SHORT_SCENES)  # what the member will see
    _open_team(owner)
    member_address = f"member-{email}"
    _invite(owner, member_address)
    expect(by_testid(owner, "team-message")).to_have_text(f"Invitation sent to {member_address}.")

    member = new_page()
    _accept_invitation(member, live_app, _invitation_link(mailbox, member_address), member_address, workspace)
    expect(by_testid(member, "nav-team")).to_be_visible()
    expect(by_testid(member, "nav-billing")).to_have_count(0)
    by_testid(member, "nav-team").click()
    expect(by_testid(member, "member-row")).to_have_count(2)
    expect(by_testid(member, "member-remove")).to_have_count(0)
    expect(by_testid(member, "member-role-select")).to_have_count(0)
    expect(by_testid(member, "invite-email")).to_have_count(0)
    _check_page(member, "member-view")
    member.goto("/billing")
    expect(by_testid(member, "billing-owners-only")).to_have_text(
        f"Only an owner of {workspace} can manage billing. Ask an owner to change the plan.")
    expect(member.locator(".plan-card")).to_have_count(0)
    _check_page(member, "member-billing")
    member.goto("/library")
    expect(by_testid(member, "workspace-current")).to_have_text(workspace)
    card = member.locator(f"[data-testid='library-card'][data-render-id='{render_id}']")
    expect(card).to_contain_text("The owner's volcano video")  # the workspace's renders, made by the owner

    _open_team(owner)
    row = by_testid(owner, "member-row").filter(has_text=member_address)
    select = row.get_by_label(f"Role of {member_address}")
    select.select_option("owner")  # asks first, saying what an owner may do
    dialog = owner.get_by_role("alertdialog")
    expect(dialog).to_contain_text(f"Make {member_address} an owner?")
    expect(dialog).to_contain_text("Owners can manage billing and delete the workspace")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(select).to_have_value("member")  # nothing changed
    expect(by_testid(owner, "team-message")).to_have_count(0)
    select.select_option("admin")
    owner.get_by_role("alertdialog").get_by_role("button", name="Make admin").click()
    expect(by_testid(owner, "team-message")).to_have_text(f"{member_address} is now Admin.")
    select.focus()
    owner.keyboard.press("ArrowDown")  # arrowing through the select only asks
    expect(owner.get_by_role("alertdialog")).to_contain_text(f"Make {member_address} a member?")
    owner.keyboard.press("Escape")
    expect(owner.get_by_role("alertdialog")).to_have_count(0)
    expect(select).to_be_focused()  # back where the keyboard was
    expect(select).to_have_value("admin")
    owner.set_viewport_size(PHONE)  # a phone shows each member as a card, Remove included
    remove = row.get_by_role("button", name=f"Remove {member_address}")
    expect(remove).to_be_visible()
    box = remove.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    screenshot(owner, "team-phone-members")
    owner.set_viewport_size(DESKTOP)
    # The member's open tab loads again by itself with the new role: Team now has the invite form.
    expect(by_testid(member, "workspace-role")).to_have_text("Admin")
    by_testid(member, "nav-team").click()
    expect(by_testid(member, "invite-email")).to_be_visible()
    expect(by_testid(member, "nav-billing")).to_have_count(0)

    row.get_by_role("button", name=f"Remove {member_address}").click()
    owner.get_by_role("alertdialog").get_by_role("button", name="Remove").click()
    expect(by_testid(owner, "team-message")).to_have_text(f"{member_address} was removed from the workspace.")
    # The member's open tab, untouched since, goes to the sign-in page by itself.
    expect(member).to_have_url(url_re("/login", r"signed_out=access$"))
    expect(member.get_by_text(f"You no longer have access to {workspace}.")).to_be_visible()
    screenshot(member, "team-desktop-access-lost")
