"""Page objects for browser flows: each wraps one page (or the shell) by its `data-testid`s.

A new flow reads as steps (`AccountPage(page).open().request_export()`), and a renamed button is
fixed in one place. Imported as a top-level module like e2e_helpers (unique to the e2e suite).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from e2e_helpers import MAIL_TIMEOUT, LiveApp, link_of, url_re
from e2e_renders import Scenes, create_render, wait_succeeded
from playwright.sync_api import Locator, Page, expect

EXPORT_READY_TIMEOUT_MS = 60_000  # the worker builds the ZIP; the page notices by itself


def by_testid(page: Page, test_id: str) -> Locator:
    """The element with `data-testid=test_id`."""
    return page.locator(f"[data-testid='{test_id}']")


@dataclass
class Download:
    """A file the browser saved: the name it offered and where the test keeps it."""

    filename: str
    path: Path


def download(page: Page, trigger: Locator, folder: Path) -> Download:
    """Click `trigger`, wait for the browser's download event and save the file into `folder`."""
    with page.expect_download() as info:
        trigger.click()
    saved = info.value
    path = folder / saved.suggested_filename
    saved.save_as(path)
    return Download(filename=saved.suggested_filename, path=path)


@dataclass
class Mailbox:
    """The app's caught mail for one test."""

    live_app: LiveApp

    def count(self, address: str) -> int:
        """How many messages went to `address` so far."""
        return sum(1 for m in self.live_app.mail.messages() if address.lower() in str(m.get("To", "")).lower())

    def wait_for(self, address: str, count: int = 1) -> EmailMessage:
        """The `count`-th message to `address` (waits for it to arrive)."""
        return self.live_app.mail.wait_for(address, timeout=MAIL_TIMEOUT, count=count)

    def sign_in_link(self, address: str) -> str:
        """The link in the latest sign-in email to `address`."""
        return link_of(self.wait_for(address, count=max(1, self.count(address))))


@dataclass
class Shell:
    """The chrome around every signed-in page: navigation and the user menu."""

    page: Page

    def nav(self, label: str) -> Locator:
        """The top-bar link of a page ("Create", "Library", "Billing", "Account")."""
        return by_testid(self.page, f"nav-{label.lower()}")

    def go(self, label: str) -> None:
        """Follow a top-bar link."""
        self.nav(label).click()
        expect(self.nav(label)).to_have_attribute("aria-current", "page")

    def sign_out(self) -> None:
        """Open the user menu and sign out."""
        by_testid(self.page, "user-menu").click()
        by_testid(self.page, "sign-out").click()
        expect(self.page).to_have_url(url_re("/login", r"signed_out=1$"))


@dataclass
class NewRender:
    """The create page, then the render page of what it made."""

    page: Page

    def create(self, topic: str, scenes: Scenes) -> str:
        """Fill and submit the create form; returns the render id (the page is on /render/<id>)."""
        return create_render(self.page, topic, scenes)

    def wait_ready(self) -> None:
        """Wait on the render page until the video is ready."""
        wait_succeeded(self.page)


@dataclass
class AccountPage:
    """/account."""

    page: Page

    def open(self) -> AccountPage:
        """Go to /account and wait for its first section."""
        self.page.goto("/account")
        expect(self.page.get_by_role("heading", name="Your data")).to_be_visible()
        return self

    def request_export(self) -> Locator:
        """Ask for an export and return its "Download ZIP" link once the worker has built it."""
        by_testid(self.page, "request-export").click()
        link = by_testid(self.page, "export-download").first
        expect(link).to_be_visible(timeout=EXPORT_READY_TIMEOUT_MS)
        return link

    def download_export(self, folder: Path) -> tuple[Download, list[str]]:
        """Request an export, download it as the browser does, and list the ZIP's files."""
        saved = download(self.page, self.request_export(), folder)
        with zipfile.ZipFile(saved.path) as zf:
            return saved, zf.namelist()
