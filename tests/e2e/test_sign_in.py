"""Sign-in as a user sees it: magic link, code, next= round trip, sign-out, expired links."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import closing

import pytest
from e2e_helpers import (
    MAIL_TIMEOUT,
    LiveApp,
    code_of,
    confirm_link,
    expect_signed_in,
    link_of,
    login_redirect_re,
    open_login,
    request_link,
    screenshot,
    url_re,
)
from factories import clear_rate_limits
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

SESSION_COOKIE = "sa_session"
EXPIRED_HEADING = "This link has expired"
USED_HEADING = "This link was already used"
UNKNOWN_HEADING = "This link doesn't work"


def _open_user_menu(page: Page, address: str) -> None:
    page.locator("#user-menu-button").click()
    menu = page.get_by_role("menu")
    expect(menu).to_contain_text(address)
    menu.evaluate("el => Promise.all(el.getAnimations({subtree: true}).map(a => a.finished))")


def test_full_magic_link_flow_and_sign_out(page: Page, live_app: LiveApp, email: str) -> None:
    open_login(page)
    screenshot(page, "01-login")

    message = request_link(page, live_app, email)
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    expect(page.locator("#sent-to")).to_have_text(email)
    screenshot(page, "02-check-your-email")

    page.goto(link_of(message))
    expect(page.get_by_role("heading", name=f"Sign in as {email}?")).to_be_visible()
    screenshot(page, "03-confirm-sign-in")
    page.locator("#confirm-sign-in").click()

    expect(page).to_have_url(url_re("/create"))
    expect(page.get_by_role("heading", name="Create a video")).to_be_visible()
    expect(page.locator("#user-menu-button")).to_contain_text(email)
    screenshot(page, "04-create-signed-in")
    assert SESSION_COOKIE not in page.evaluate("document.cookie")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies[SESSION_COOKIE]["httpOnly"] is True

    page.reload()
    expect(page.get_by_role("heading", name="Create a video")).to_be_visible()
    expect(page.locator("#user-menu-button")).to_contain_text(email)

    _open_user_menu(page, email)
    screenshot(page, "05-user-menu")
    page.locator("#sign-out").click()
    expect(page).to_have_url(url_re("/login", r"signed_out=1$"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    screenshot(page, "06-signed-out")

    page.goto("/create")
    expect(page).to_have_url(login_redirect_re("/create"))
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Create a video")).to_have_count(0)


def test_next_round_trip_returns_to_library(page: Page, live_app: LiveApp, email: str) -> None:
    page.goto("/library")
    expect(page).to_have_url(login_redirect_re("/library"))
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()

    message = request_link(page, live_app, email)
    confirm_link(page, link_of(message), email)

    expect_signed_in(page, email, "/library")
    expect(page.get_by_role("heading", name="Library")).to_be_visible()
    screenshot(page, "07-library-after-next")


# Records, in sessionStorage (it survives navigations within the tab), whether protected
# content ever reached the DOM, even for a single frame.
_WATCH_PROTECTED = """
(() => {
  const check = () => {
    for (const h of document.querySelectorAll('h1')) {
      if ((h.textContent || '').trim() === 'Account') sessionStorage.setItem('sawAccountHeading', '1');
    }
    if (document.getElementById('user-menu-button')) sessionStorage.setItem('sawUserMenu', '1');
  };
  new MutationObserver(check).observe(document, {childList: true, subtree: true, characterData: true});
  document.addEventListener('DOMContentLoaded', check);
})();
"""


def test_no_flash_of_protected_content(page: Page) -> None:
    page.add_init_script(_WATCH_PROTECTED)

    page.goto("/account")

    expect(page).to_have_url(login_redirect_re("/account"))
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    seen = page.evaluate("[sessionStorage.getItem('sawAccountHeading'), sessionStorage.getItem('sawUserMenu')]")
    assert seen == [None, None], "protected content was rendered before the redirect"


def test_sign_out_everywhere_ends_other_devices(
    page: Page, new_page: Callable[[], Page], live_app: LiveApp, sign_in: Callable[..., object], email: str
) -> None:
    other = new_page()
    sign_in(page, email)
    clear_rate_limits(live_app.redis)  # time passes: the per-address limit allows one email a minute
    sign_in(other, email)

    _open_user_menu(page, email)
    page.locator("#sign-out-everywhere").click()
    expect(page).to_have_url(url_re("/login", r"signed_out=all$"))
    expect(page.get_by_text("You are signed out on every device.")).to_be_visible()
    screenshot(page, "08-signed-out-everywhere")

    # The other device's open tab notices by itself, without a click or a reload (its access watch).
    expect(other).to_have_url(url_re("/login", r"signed_out=1$"))
    expect(other.get_by_text("You are signed out.")).to_be_visible()
    expect(other.get_by_role("heading", name="Create a video")).to_have_count(0)
    other.goto("/create")
    expect(other).to_have_url(login_redirect_re("/create"))
    expect(other.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()


def _expect_expired_page(page: Page, heading: str = EXPIRED_HEADING) -> None:
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.get_by_role("button", name="Send me a new link")).to_be_visible()
    expect(page.locator("#confirm-sign-in")).to_have_count(0)


def test_expired_and_unknown_links_show_the_expired_page(page: Page, live_app: LiveApp, email: str) -> None:
    open_login(page)
    message = request_link(page, live_app, email)
    with closing(live_app.db()) as db, db:
        (stored,) = db.execute("SELECT expires_at FROM magiclink WHERE email = ?", (email,)).fetchone()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", stored), f"new format: {stored!r}"
        db.execute("UPDATE magiclink SET expires_at = '2000-01-01 00:00:00.000000' WHERE email = ?", (email,))

    page.goto(link_of(message))
    _expect_expired_page(page)
    screenshot(page, "09-link-expired")

    page.get_by_role("button", name="Send me a new link").click()
    expect(page).to_have_url(url_re("/login"))
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(page.locator("#email")).to_have_value(email)  # the address is kept for the new link

    page.goto("/auth/verify?token=this-token-was-never-issued")
    _expect_expired_page(page, UNKNOWN_HEADING)


def test_six_digit_code_signs_in(page: Page, live_app: LiveApp, email: str) -> None:
    open_login(page)
    message = request_link(page, live_app, email)

    page.locator("#code").fill(code_of(message))
    page.locator("#code-submit").click()

    expect_signed_in(page, email)
    expect(page.get_by_role("heading", name="Create a video")).to_be_visible()


def test_wrong_code_shows_error_and_keeps_the_address(page: Page, live_app: LiveApp, email: str) -> None:
    open_login(page)
    message = request_link(page, live_app, email)
    right = code_of(message)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    page.locator("#code").fill(wrong)
    page.locator("#code-submit").click()

    expect(page).to_have_url(url_re("/login", r".*error=code_invalid"))
    expect(page.locator("#code-error")).to_have_text(re.compile(r"That code is not right"))
    expect(page.locator("#sent-to")).to_have_text(email)
    screenshot(page, "10-wrong-code")

    page.locator("#code").fill(right)
    page.locator("#code-submit").click()
    expect_signed_in(page, email)


def test_resend_button_counts_down(page: Page, live_app: LiveApp, email: str) -> None:
    open_login(page)
    request_link(page, live_app, email)
    resend = page.locator("#resend")

    expect(resend).to_be_disabled()
    expect(resend).to_have_text(re.compile(r"Resend in \d+s"))
    first = int(re.search(r"\d+", resend.inner_text()).group())
    screenshot(page, "11-resend-cooldown")
    expect(resend).not_to_have_text(f"Resend in {first}s")  # the next tick arrived
    second = int(re.search(r"\d+", resend.inner_text()).group())

    assert 0 < second < first <= 60
    expect(resend).to_be_disabled()


def test_invalid_email_shows_inline_error_and_sends_nothing(page: Page, live_app: LiveApp) -> None:
    open_login(page)

    # Passes the browser's own type=email check, fails the server's validation.
    page.locator("#email").fill("someone@nodot")
    page.get_by_role("button", name="Email me a sign-in link").click()

    expect(page.locator("#email-error")).to_contain_text("not valid")
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    screenshot(page, "12-invalid-email")

    # Not an address at all: the browser refuses to submit.
    page.locator("#email").fill("not-an-email")
    page.get_by_role("button", name="Email me a sign-in link").click()
    assert page.locator("#email").evaluate("el => el.validationMessage") != ""
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()

    # Nothing was sent for either: a valid request made after them is the only mail that arrives.
    page.locator("#email").fill("after-the-invalid-ones@example.com")
    page.get_by_role("button", name="Email me a sign-in link").click()
    live_app.mail.wait_for("after-the-invalid-ones@example.com", timeout=MAIL_TIMEOUT)
    assert [str(m["To"]) for m in live_app.mail.messages()] == ["after-the-invalid-ones@example.com"]


def test_used_link_cannot_be_used_again(page: Page, sign_in: Callable[..., object], email: str) -> None:
    message = sign_in(page, email)

    page.goto(link_of(message))

    _expect_expired_page(page, USED_HEADING)  # told apart from an expired link
