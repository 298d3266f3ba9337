"""Every page, checked as a whole: axe-core finds no serious or critical violation, nothing is wider than
a phone's screen, the current page is marked, a skip link leads to the content; and the front door.

axe-core is vendored (tests/e2e/vendor/axe.min.js, MPL-2.0) and injected into the page under test.
Screenshots of every page at 1280x800 and 390x844 land in var/screenshots/ for people to look at.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from e2e_helpers import LiveApp, axe_violations, screenshot, too_wide, url_re
from e2e_renders import SHORT_SCENES
from page_objects import NewRender, Shell, by_testid
from playwright.sync_api import Page, expect

from saas_app.services.usage.plans import PLANS

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _settled(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.locator("main")).to_be_visible()
    expect(page.locator("[data-testid='page-skeleton']")).to_have_count(0)
    page.evaluate("() => document.fonts.ready")


def _pages(render_id: str) -> list[tuple[str, str]]:
    return [("create", "/create"), ("render", f"/render/{render_id}"), ("library", "/library"),
            ("team", "/team"), ("billing", "/billing"), ("account", "/account")]


@pytest.fixture
def render_id(signed_in_page: Page) -> str:
    """A finished render of the signed-in user (the render page has its player and downloads)."""
    new = NewRender(signed_in_page)
    made = new.create("How volcanoes work", SHORT_SCENES[:1])
    new.wait_ready()
    return made


def test_axe_finds_no_serious_violation_on_any_page(new_page: Callable[[], Page], render_id: str,
                                                    signed_in_page: Page) -> None:
    found: dict[str, list[dict[str, object]]] = {}
    for name, path in _pages(render_id):
        _settled(signed_in_page, path)
        found[name] = axe_violations(signed_in_page)
    visitor = new_page()
    for name, path in (("front", "/"), ("login", "/login")):
        visitor.goto(path)
        expect(visitor.locator("main")).to_be_visible()
        found[name] = axe_violations(visitor)
    assert all(not v for v in found.values()), json.dumps({k: v for k, v in found.items() if v}, indent=1)


def test_nothing_is_wider_than_a_phone(signed_in_page: Page, new_page: Callable[[], Page], render_id: str) -> None:
    page = signed_in_page
    cut_off: dict[str, list[str]] = {}
    for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        for name, path in _pages(render_id):
            _settled(page, path)
            screenshot(page, f"ui-{size_name}-{name}")
            if size is PHONE and (offenders := too_wide(page)):
                cut_off[name] = offenders
    visitor = new_page()
    for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        visitor.set_viewport_size(size)
        for name, path in (("front", "/"), ("login", "/login")):
            visitor.goto(path)
            expect(visitor.locator("main")).to_be_visible()
            screenshot(visitor, f"ui-{size_name}-{name}")
            if size is PHONE and (offenders := too_wide(visitor)):
                cut_off[name] = offenders
    assert not cut_off, cut_off


def test_phone_header_is_one_row_with_a_menu_and_a_usage_line(signed_in_page: Page) -> None:
    page = signed_in_page
    page.set_viewport_size(PHONE)
    _settled(page, "/account")
    header = page.locator("header").first
    assert (header.bounding_box() or {"height": 999})["height"] < 70  # one row
    summary = by_testid(page, "usage-summary")
    expect(summary).to_contain_text("Images")
    assert (summary.bounding_box() or {"height": 999})["height"] < 50  # one line until opened
    summary.click()
    expect(page.locator(".usage-summary [data-metric='images_count']")).to_be_visible()
    by_testid(page, "nav-menu").click()
    page.get_by_role("menuitem", name="Billing").click()
    expect(page).to_have_url(url_re("/billing"))


def test_current_page_is_marked_and_the_skip_link_leads_to_the_content(signed_in_page: Page) -> None:
    page = signed_in_page
    page.set_viewport_size(DESKTOP)
    shell = Shell(page)
    shell.go("Billing")
    expect(shell.nav("Billing")).to_have_attribute("aria-current", "page")
    for other in ("Create", "Library", "Account"):
        expect(shell.nav(other)).not_to_have_attribute("aria-current", "page")
    assert shell.nav("Billing").evaluate("el => getComputedStyle(el).borderBottomStyle") == "solid"
    menu = by_testid(page, "user-menu")
    assert page.locator("#user-menu-button").get_attribute("aria-label") is None  # named by its visible text
    expect(menu).to_contain_text("@example.com")

    page.keyboard.press("Tab")
    expect(by_testid(page, "skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main-content")).to_be_focused()


def test_front_door_for_visitors(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Turn a topic into a narrated video")).to_be_visible()
    expect(by_testid(page, "example-frame")).to_be_visible()
    expect(page.locator(".home-plan")).to_have_count(len(list(PLANS)))
    screenshot(page, "front-door")
    by_testid(page, "home-start").click()
    expect(page).to_have_url(url_re("/login"))


def test_front_door_sends_signed_in_visitors_to_create(signed_in_page: Page) -> None:
    signed_in_page.goto("/")
    expect(signed_in_page).to_have_url(url_re("/create"))


def test_a_refused_sign_in_is_scrolled_to_and_focused(page: Page, live_app: LiveApp) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/login")
    page.locator("#email").fill("someone@nodot")
    by_testid(page, "request-link").click()
    error = page.locator("#email-error")
    expect(error).to_be_focused()
    expect(error).to_be_in_viewport()
