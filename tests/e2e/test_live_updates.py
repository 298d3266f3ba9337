"""Pages follow a running render by themselves (the tab's one update stream): a library card turns
Ready and the usage banner counts the images without a reload, on a page other than the render's."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from e2e_helpers import READY_BADGE, expect_no_horizontal_overflow, expect_usage, screenshot, url_re
from e2e_renders import RENDER_TIMEOUT_S, SHORT_SCENES, create_render
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e
LONG = ("Slow narration keeps this render going for a while, so the library shows it running first and "
        "then sees it finish by itself, with nobody pressing reload. ") * 2


def test_a_library_card_turns_ready_and_the_banner_counts_without_a_reload(
        page: Page, sign_in: Callable[..., object], email: str) -> None:
    sign_in(page, email)
    expect_usage(page, "images_count", "0 / 6")
    render_id = create_render(page, "Watched from the library", [(text, LONG) for text, _ in SHORT_SCENES])
    page.get_by_role("link", name="Library", exact=True).click()  # inside the app: no page load
    expect(page).to_have_url(url_re("/library"))
    page.evaluate("window.__e2eSameDocument = true")  # gone if anything reloads the page

    card = page.locator(f"[data-testid='library-card'][data-render-id='{render_id}']")
    expect(card).to_have_count(1)
    assert card.get_attribute("data-status") in ("queued", "running"), "the render ended before the library showed"
    expect(card).to_have_attribute("data-status", "succeeded", timeout=RENDER_TIMEOUT_S * 1000)
    expect(card.locator(".status-badge")).to_have_text(READY_BADGE)
    expect(card.get_by_test_id("library-card-duration")).to_have_text(re.compile(r"^\d+:\d\d$"))
    expect(card.get_by_role("img", name="Thumbnail of Watched from the library")).to_be_visible()
    expect_usage(page, "images_count", "3 / 6")
    assert page.evaluate("window.__e2eSameDocument === true"), "the library reloaded"
    screenshot(page, "library-live-1280")

    page.set_viewport_size({"width": 390, "height": 844})
    expect_no_horizontal_overflow(page)
    screenshot(page, "library-390")
