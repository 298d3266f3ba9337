"""A tab changes hands: nothing of the previous user reaches the browser (issue 9, item 1).

Reflex keeps a tab's state on the server across page loads and sends all of it when a
page connects, so these tests read the websocket frames themselves, not only the page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from e2e_helpers import MAIL_TIMEOUT, LiveApp, expect_signed_in, link_of, url_re
from playwright.sync_api import Page, WebSocket, expect

pytestmark = pytest.mark.e2e


def _record_new_websockets(page: Page) -> list[str]:
    """Every frame the server sends on websockets opened from now on."""
    frames: list[str] = []

    def on_socket(ws: WebSocket) -> None:
        ws.on("framereceived", lambda payload: frames.append(payload if isinstance(payload, str)
                                                            else payload.decode(errors="replace")))

    page.on("websocket", on_socket)
    return frames


def _leave_traces_of(page: Page, sign_in: Callable[..., object], address: str, draft: str, key_name: str) -> str:
    """Sign in, type a draft on /create and make an API key on /account; returns the key's secret."""
    sign_in(page, address)
    page.locator("#topic").fill(draft)
    page.locator("#scene-text-0").fill(draft + " scene")
    expect(page.locator("#topic")).to_have_value(draft)
    page.goto("/account")
    expect(page.get_by_role("heading", name="Account", exact=True)).to_be_visible()
    page.locator("#new-key-name").fill(key_name)
    page.locator("#create-key").click()
    expect(page.locator("#new-key-secret")).to_contain_text("nsk_")
    return page.locator("#new-key-secret").inner_text().strip()


def _sign_out(page: Page, address: str) -> None:
    page.locator("#user-menu-button").click()
    menu = page.get_by_role("menu")
    expect(menu).to_contain_text(address)
    menu.evaluate("el => Promise.all(el.getAnimations({subtree: true}).map(a => a.finished))")
    page.locator("#sign-out").click()
    expect(page).to_have_url(url_re("/login", r"signed_out=1$"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def test_after_sign_out_no_frame_carries_the_previous_users_data(
        page: Page, live_app: LiveApp, sign_in: Callable[..., object], email: str) -> None:
    draft, key_name = f"draft-{uuid.uuid4().hex[:8]}", f"key-{uuid.uuid4().hex[:8]}"
    secret = _leave_traces_of(page, sign_in, email, draft, key_name)
    frames = _record_new_websockets(page)

    _sign_out(page, email)
    page.reload()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_text("You are signed out.")).to_be_visible()  # the reloaded page's own frames arrived

    assert any("You are signed out." in f for f in frames), "no frame of the signed-out page was recorded"
    leaks = [needle for needle in (secret, secret[:16], email, draft, key_name) if any(needle in f for f in frames)]
    assert leaks == [], f"frames after sign-out carry the previous user's data: {leaks}"


def test_another_user_signing_in_on_the_tab_sees_nothing_of_the_first(
        page: Page, live_app: LiveApp, sign_in: Callable[..., object], email: str) -> None:
    draft, key_name = f"draft-{uuid.uuid4().hex[:8]}", f"key-{uuid.uuid4().hex[:8]}"
    secret = _leave_traces_of(page, sign_in, email, draft, key_name)
    other = f"e2e-{uuid.uuid4().hex[:10]}@example.com"  # B signs in on A's tab, without A signing out
    assert page.request.post("/api/auth/magic-link/request", data={"email": other}).status == 202
    page.goto(link_of(live_app.mail.wait_for(other, timeout=MAIL_TIMEOUT)))
    expect(page.locator("#verify-email")).to_have_text(other)
    frames = _record_new_websockets(page)

    page.locator("#confirm-sign-in").click()
    expect_signed_in(page, other)
    expect(page.locator("#topic")).to_have_value("")
    page.goto("/account")
    expect(page.get_by_role("heading", name="Account", exact=True)).to_be_visible()
    expect(page.locator("#user-menu-button")).to_contain_text(other)

    assert any(other in f for f in frames), "no frame of the second user's pages was recorded"
    leaks = [needle for needle in (secret, secret[:16], email, draft, key_name) if any(needle in f for f in frames)]
    assert leaks == [], f"the second user's frames carry the first user's data: {leaks}"


def test_a_revealed_key_is_not_sent_again_on_reload(
        page: Page, live_app: LiveApp, sign_in: Callable[..., object], email: str) -> None:
    secret = _leave_traces_of(page, sign_in, email, f"draft-{uuid.uuid4().hex[:8]}", "reload-key")
    frames = _record_new_websockets(page)

    page.reload()
    expect(page.locator(".api-key-row")).to_have_count(1)  # the page loaded its rows again

    assert any("reload-key" in f for f in frames), "no frame of the reloaded page was recorded"
    assert not any(secret in f for f in frames), "the secret was sent again after the event that revealed it"
    expect(page.locator("#new-key-secret")).to_have_count(0)
