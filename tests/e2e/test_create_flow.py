"""The create page as a creator types: the quota hint per metric, the draft kept across a reload,
focus on the new scene, and a phone-sized page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from e2e_helpers import expect_no_horizontal_overflow, screenshot
from e2e_renders import fill_form
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_the_estimate_shows_what_is_left_per_metric_as_you_type(page: Page, sign_in: Callable[..., object],
                                                                 email: str) -> None:
    sign_in(page, email)
    expect(page.get_by_test_id("estimate")).to_have_count(0)  # nothing to estimate yet
    page.get_by_test_id("topic").fill("Typing test")
    page.locator("#scene-text-0").fill("A first scene")
    images = page.get_by_test_id("estimate-images_count")
    expect(images).to_have_text("1 image · 6 left")
    expect(images).to_have_attribute("data-fits", "yes")
    expect(page.get_by_test_id("estimate-tts_seconds")).to_contain_text("of narration · 1,000 min left")
    page.get_by_test_id("add-scene").click()
    page.locator("#scene-text-1").fill("A second scene")
    expect(images).to_have_text("2 images · 6 left")
    expect(page.get_by_test_id("create-submit")).to_be_enabled()
    expect(page.get_by_test_id("create-blocked")).to_have_count(0)


def test_focus_moves_to_a_new_scene_and_follows_a_moved_one(page: Page, sign_in: Callable[..., object],
                                                             email: str) -> None:
    sign_in(page, email)
    page.get_by_test_id("add-scene").click()
    expect(page.locator("#scene-text-1")).to_be_focused()
    page.keyboard.type("Typed straight away")
    expect(page.locator("#scene-text-1")).to_have_value("Typed straight away")
    page.get_by_test_id("add-scene").click()
    expect(page.locator("#scene-text-2")).to_be_focused()

    page.locator("#scene-text-0").fill("First")
    page.get_by_role("button", name="Move scene 1 down").click()  # focus follows the moved scene
    expect(page.locator("#scene-text-1")).to_have_value("First")
    expect(page.get_by_role("button", name="Move scene 2 down")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#scene-text-2")).to_have_value("First")
    expect(page.get_by_role("button", name="Move scene 3 up")).to_be_focused()  # at the end: its other arrow


def test_a_draft_survives_a_reload_and_a_new_tab(page: Page, sign_in: Callable[..., object], email: str) -> None:
    sign_in(page, email)
    fill_form(page, "Half-written idea", [("Scene one", "Spoken words"), ("Scene two", None)])
    voice = page.locator("#pick-voice option").nth(1).get_attribute("value") or ""
    page.locator("#pick-voice").select_option(voice)
    expect(page.locator("#pick-voice")).to_have_value(voice)
    expect(page.get_by_test_id("estimate-images_count")).to_have_text("2 images · 6 left")  # the server has it all
    page.reload()
    expect(page.locator("#topic")).to_have_value("Half-written idea")
    expect(page.locator(".scene-card")).to_have_count(2)
    expect(page.locator("#scene-narration-0")).to_have_value("Spoken words")
    expect(page.locator("#scene-text-1")).to_have_value("Scene two")
    expect(page.locator("#pick-voice")).to_have_value(voice)

    other = page.context.new_page()  # the same browser, a tab of its own
    other.goto("/create")
    expect(other.locator("#topic")).to_have_value("Half-written idea")
    expect(other.locator("#scene-text-1")).to_have_value("Scene two")
    other.close()


def test_the_create_page_fits_a_phone(page: Page, sign_in: Callable[..., object], email: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, email)
    fill_form(page, "A rather long topic about the way volcanoes build islands over time",
              [("Scene one with quite a lot of words in it to wrap", None), ("Scene two", None)])
    expect(page.get_by_test_id("estimate-images_count")).to_have_text("2 images · 6 left")
    expect_no_horizontal_overflow(page)
    screenshot(page, "create-390")
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, "create-1280")
