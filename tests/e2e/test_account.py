"""Browser flows of the account page: export, API keys, workspace and account deletion, sessions, roles."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from e2e_helpers import MAIL_TIMEOUT, LiveApp, login_redirect_re, screenshot, url_re
from factories import clear_rate_limits
from page_objects import AccountPage
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def _open_account(page: Page) -> None:
    page.goto("/account")
    expect(page.get_by_role("heading", name="Your data")).to_be_visible()


def test_export_and_download_the_zip(page: Page, live_app: LiveApp, sign_in: Callable[..., object],
                                     email: str, downloads: Path) -> None:
    sign_in(page, email)
    account = AccountPage(page).open()

    saved, names = account.download_export(downloads)  # a click saves the file: the browser's download event
    expect(page.locator("#export-message")).to_contain_text("being prepared")
    screenshot(page, "20-account-export-ready")
    assert saved.filename == f"narrated-studio-export-{datetime.now(UTC):%Y-%m-%d}.zip"
    assert {"profile.json", "tenant.json", "usage.jsonl", "audit.json", "renders.json", "billing.json",
            "README.txt"} <= set(names)
    with zipfile.ZipFile(saved.path) as zf:
        assert zf.testzip() is None  # every member reads back intact
        assert json.loads(zf.read("profile.json"))
    expect(page).to_have_url(url_re("/account"))  # the page stayed where it was (no in-app 404)
    mail = live_app.mail.wait_for(email, timeout=MAIL_TIMEOUT, count=2)
    assert "export is ready" in str(mail["Subject"]).lower()

    page.locator("#request-export").click()  # a second one within the hour is refused in plain words
    expect(page.locator("#export-message")).to_contain_text("one export per hour")


def test_create_copy_use_and_revoke_an_api_key(page: Page, sign_in: Callable[..., object], email: str) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, email)
    _open_account(page)

    page.locator("#new-key-name").fill("CI pipeline")
    page.locator("#create-key").click()
    secret = page.locator("#new-key-secret")
    expect(secret).to_contain_text("nsk_")
    key = secret.inner_text().strip()
    page.locator("#copy-key").click()  # the copy arrives after a round trip to the server
    page.wait_for_function("async (key) => (await navigator.clipboard.readText()) === key", arg=key)
    expect(page.locator(".api-key-row")).to_have_count(1)
    screenshot(page, "21-account-new-key")

    assert page.request.get("/api/usage", headers={"X-API-Key": key}).status == 200
    page.get_by_role("button", name="Done").click()
    expect(secret).to_have_count(0)  # shown once: gone for good

    page.get_by_role("button", name="Revoke CI pipeline").click()
    page.locator("#confirm-revoke").click()
    expect(page.locator(".api-key-row")).to_have_count(0)
    assert page.request.get("/api/usage", headers={"X-API-Key": key}).status == 401


def test_schedule_and_cancel_deletion(page: Page, live_app: LiveApp, sign_in: Callable[..., object],
                                      email: str) -> None:
    sign_in(page, email)
    _open_account(page)

    page.locator("#delete-workspace").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#confirm-email")).to_be_focused()  # focus moves into the dialog, to its field
    page.get_by_role("alertdialog").get_by_role("button", name="Keep the workspace").click()
    expect(page.locator("#delete-workspace")).to_be_focused()  # and back to the button when it closes
    page.locator("#delete-workspace").click()
    confirm = page.locator("#confirm-delete-workspace")
    expect(confirm).to_be_disabled()
    page.locator("#confirm-email").fill("someone-else@example.com")
    expect(confirm).to_be_disabled()
    expect(page.locator("#confirm-email-hint")).to_have_text(f"Type {email} exactly to confirm.")
    page.locator("#confirm-email").fill(email)
    expect(confirm).to_be_enabled()
    confirm.click()

    expect(page.locator("#deletion-countdown")).to_contain_text("will be deleted on")
    screenshot(page, "22-account-deletion-scheduled")
    mail = live_app.mail.wait_for(email, timeout=MAIL_TIMEOUT, count=2)
    assert "will be deleted" in str(mail["Subject"])

    page.goto("/create")  # every page tells whoever signs in that the workspace is about to go
    expect(page.locator("[data-testid='deletion-notice']")).to_contain_text("scheduled for deletion")
    _open_account(page)

    page.locator("#cancel-deletion").click()
    expect(page.locator("#delete-message")).to_contain_text("Deletion canceled")
    expect(page.locator("#delete-workspace")).to_be_visible()
    page.reload()
    expect(page.locator("#delete-workspace")).to_be_visible()  # nothing pending after a reload either
    expect(page.locator("[data-testid='deletion-notice']")).to_have_count(0)


def test_revoke_another_session(page: Page, new_page: Callable[[], Page], live_app: LiveApp,
                                sign_in: Callable[..., object], email: str) -> None:
    other = new_page()
    sign_in(page, email)
    clear_rate_limits(live_app.redis)  # time passes: the per-address limit allows one email a minute
    sign_in(other, email)

    _open_account(page)
    rows = page.locator(".session-row")
    expect(rows).to_have_count(2)
    expect(page.get_by_text("This device")).to_have_count(1)
    screenshot(page, "23-account-sessions")
    rows.get_by_role("button", name="Sign out").click()  # only the other device has the button
    expect(page.locator("#session-message")).to_contain_text("signed out")
    expect(rows).to_have_count(1)

    other.goto("/create")
    expect(other).to_have_url(login_redirect_re("/create"))


def test_replace_key_asks_first_and_says_the_old_one_stopped(page: Page, sign_in: Callable[..., object],
                                                             email: str) -> None:
    sign_in(page, email)
    _open_account(page)
    page.locator("#new-key-name").fill("Deploy")
    page.locator("#create-key").click()
    old = page.locator("#new-key-secret").inner_text().strip()
    page.get_by_role("button", name="Done").click()

    page.get_by_role("button", name="Replace Deploy").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("the old one stops working at once")
    page.get_by_role("button", name="Keep it").click()  # asked first: nothing changed yet
    assert page.request.get("/api/usage", headers={"X-API-Key": old}).status == 200

    page.get_by_role("button", name="Replace Deploy").click()
    page.locator("#confirm-rotate").click()
    notice = page.locator("[data-testid='new-key-notice']")
    expect(notice).to_contain_text("The old key stopped working.")
    expect(page.get_by_text("Copy this key now")).to_have_count(1)  # said once
    new = page.locator("#new-key-secret").inner_text().strip()
    assert new != old
    assert page.request.get("/api/usage", headers={"X-API-Key": old}).status == 401
    assert page.request.get("/api/usage", headers={"X-API-Key": new}).status == 200


def test_account_reads_in_plain_words(page: Page, sign_in: Callable[..., object], email: str) -> None:
    sign_in(page, email)
    _open_account(page)

    items = page.locator("[data-testid='activity-item']")
    expect(items.first).to_be_visible()
    expect(items.filter(has_text=re.compile(r"^Signed in from Headless Chrome on Linux"))).to_have_count(1)
    expect(items.filter(has_text="auth.")).to_have_count(0)
    expect(items.first).to_contain_text(re.compile(r"(seconds?|a minute) ago"))
    expect(page.locator("[data-testid='activity-pager']")).to_have_count(0)  # one page: no pager
    expect(page.get_by_role("link", name="API reference")).to_have_attribute("href", "/api/docs")
    expect(page.locator("#backup-status")).to_contain_text("Backups:")  # the owner sees one line
    for header in page.locator("#sessions th").all():  # every column is named
        assert header.inner_text().strip() or header.text_content(), "empty table header"

    headings = page.locator("main h2").all_inner_texts()
    assert headings[-1] == "Danger zone", headings  # last on the page
    page.locator("#delete-workspace").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("deleted for good in 24 hours")


def _set_team(live_app: LiveApp, email: str, *, mine: str, other: str) -> None:
    """Give the person role `mine` in their workspace, with a second person there in role `other`."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with live_app.db() as db:
        user_id, tenant_id = db.execute("SELECT m.user_id, m.tenant_id FROM membership m JOIN user u ON "
                                        "u.id = m.user_id WHERE u.email = ?", (email,)).fetchone()
        db.execute("UPDATE membership SET role = ? WHERE user_id = ?", (mine, user_id))
        db.execute("UPDATE tenant SET name = 'Shared Studio' WHERE id = ?", (tenant_id,))
        other_id = f"{user_id[:-5]}other"
        db.execute("INSERT OR IGNORE INTO user (id, email, created_at) VALUES (?, ?, ?)",
                   (other_id, f"other-{email}", now))
        db.execute("INSERT OR IGNORE INTO membership (tenant_id, user_id, role, created_at, last_active_at) "
                   "VALUES (?, ?, ?, ?, ?)", (tenant_id, other_id, other, now, now))
        db.execute("UPDATE membership SET role = ? WHERE user_id = ?", (other, other_id))


def test_a_member_sees_only_what_the_role_allows_and_deletes_their_own_account(
    page: Page, live_app: LiveApp, sign_in: Callable[..., object], email: str,
) -> None:
    sign_in(page, email)
    _set_team(live_app, email, mine="member", other="owner")
    _open_account(page)
    expect(page.locator("#export-scope")).to_contain_text("Not included for your role: the activity log")
    for hidden in ("#api-keys", "#activity", "#backup-status", "#delete-workspace", "#delete-workspace-card"):
        expect(page.locator(hidden)).to_have_count(0)
    screenshot(page, "24-account-member")

    page.locator("#delete-me").click()
    expect(page.locator("#confirm-me-email")).to_be_focused()
    confirm = page.locator("#confirm-delete-me")
    expect(confirm).to_be_disabled()
    page.locator("#confirm-me-email").fill(email)
    confirm.click()
    expect(page.locator("#my-deletion-countdown")).to_contain_text("Your account will be deleted on")
    mail = live_app.mail.wait_for(email, timeout=MAIL_TIMEOUT, count=2)
    assert str(mail["Subject"]) == "Your account will be deleted"
    page.locator("#cancel-my-deletion").click()
    expect(page.locator("#delete-me-message")).to_contain_text("Deletion canceled")
    expect(page.locator("#delete-me")).to_be_visible()

    with live_app.db() as db:  # an owner schedules the workspace's deletion: the member cannot cancel it
        db.execute("INSERT INTO accountdeletion (tenant_id, requested_by, requested_at, scheduled_for) "
                   "SELECT m.tenant_id, m.user_id, ?, ? FROM membership m WHERE m.role = 'owner' AND m.tenant_id = "
                   "(SELECT m2.tenant_id FROM membership m2 JOIN user u ON u.id = m2.user_id WHERE u.email = ?)",
                   (datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"), "2099-01-01 00:00:00.000000", email))
    page.goto("/create")
    expect(page.locator("[data-testid='deletion-notice']")).to_contain_text("ask an owner to cancel it")


def test_the_only_owner_is_told_to_hand_over_first(
    page: Page, live_app: LiveApp, sign_in: Callable[..., object], email: str,
) -> None:
    sign_in(page, email)
    _set_team(live_app, email, mine="owner", other="member")
    _open_account(page)
    blocked = page.locator("#delete-me-blocked")
    expect(blocked).to_contain_text("You are the only owner")
    expect(blocked).to_contain_text("Shared Studio")
    expect(page.locator("#team-link")).to_have_attribute("href", "/team")
    expect(page.locator("#delete-me")).to_have_count(0)
    expect(page.locator("#delete-workspace")).to_be_visible()  # deleting the workspace is the other way out
