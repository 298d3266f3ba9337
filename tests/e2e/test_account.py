"""Browser flows of the account page: export, API keys, deletion, sessions."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import pytest
from e2e_helpers import MAIL_TIMEOUT, LiveApp, login_redirect_re, screenshot
from factories import clear_rate_limits
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def _open_account(page: Page) -> None:
    page.goto("/account")
    expect(page.get_by_role("heading", name="Data and privacy")).to_be_visible()


def test_export_and_download_the_zip(page: Page, live_app: LiveApp, sign_in: Callable[..., object],
                                     email: str) -> None:
    sign_in(page, email)
    _open_account(page)

    page.locator("#request-export").click()
    expect(page.locator("#export-message")).to_contain_text("being prepared")
    download = page.locator(".export-download").first
    expect(download).to_be_visible(timeout=60_000)  # the worker built it; the page noticed by itself
    screenshot(page, "20-account-export-ready")

    response = page.request.get(download.get_attribute("href") or "")
    assert response.status == 200 and response.headers["content-type"] == "application/zip"
    names = set(zipfile.ZipFile(io.BytesIO(response.body())).namelist())
    assert {"profile.json", "tenant.json", "usage.jsonl", "audit.json", "renders.json", "billing.json",
            "README.txt"} <= names
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

    page.locator("#delete-account").click()
    confirm = page.locator("#confirm-delete-account")
    expect(confirm).to_be_disabled()
    page.locator("#confirm-email").fill("someone-else@example.com")
    expect(confirm).to_be_disabled()
    page.locator("#confirm-email").fill(email)
    expect(confirm).to_be_enabled()
    confirm.click()

    expect(page.locator("#deletion-countdown")).to_contain_text("will be deleted on")
    screenshot(page, "22-account-deletion-scheduled")
    mail = live_app.mail.wait_for(email, timeout=MAIL_TIMEOUT, count=2)
    assert "will be deleted" in str(mail["Subject"])

    page.locator("#cancel-deletion").click()
    expect(page.locator("#delete-message")).to_contain_text("Deletion canceled")
    expect(page.locator("#delete-account")).to_be_visible()
    page.reload()
    expect(page.locator("#delete-account")).to_be_visible()  # nothing pending after a reload either


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
