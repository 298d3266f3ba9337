"""A refused sign-in email tells the wait in plain words on the page (issue 9, item 5)."""

from __future__ import annotations

import re

import pytest
from e2e_helpers import LiveApp, open_login, request_link
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_the_wait_for_another_email_is_shown_in_plain_words(page: Page, live_app: LiveApp, email: str) -> None:
    open_login(page)
    request_link(page, live_app, email)
    page.get_by_role("button", name="Use another email").click()
    page.locator("#email").fill(email)  # the same address again within the minute
    page.get_by_role("button", name="Email me a sign-in link").click()

    error = page.locator("#email-error")
    expect(error).to_contain_text("Too many sign-in emails")
    expect(error).to_have_text(re.compile(r"Try again in (a few seconds|about \d\d? seconds|about 1 minute)\.$"))
    assert len([m for m in live_app.mail.messages() if email in str(m["To"])]) == 1
