"""Renders as a user sees them: the create form, live progress, the player, the library, quotas, cancel.

The e2e app gives a Free workspace 6 images a month (QUOTA_IMAGES_COUNT=6 in conftest), so
two 3-scene renders use the month's images, and Free runs one render at a time.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable

import pytest
from e2e_helpers import Hydration, LiveApp, expect_usage, screenshot, url_re, usage_bar
from e2e_renders import (
    EMPTY_STORAGE,
    RENDER_URL_RE,
    SHORT_SCENES,
    STEP_COUNT,
    Scenes,
    create_render,
    fill_form,
    render_count,
    step_statuses,
    submit_render,
    tenant_of,
    wait_succeeded,
    watch_steps,
)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

STALE_FORM_ERRORS_BUG = (
    "saas_app/state/create.py: CreateState keeps form_error/upgrade_hint/errors across navigation and reloads "
    "(no on_load clears them; only an edit does), so a refusal seen before going to /billing is still shown "
    "with its upgrade link when the user comes back, even after upgrading")
DOUBLE_SUBMIT_BUG = (
    "saas_app/state/create.py submit: a double click queues a second submit that runs after the first has reset "
    "the form, so it records 'Topic is required.' / 'Scene text is required.' / 'Please fix the highlighted "
    "fields.', which greet the user on their next visit to /create")


def test_render_progresses_live_then_plays_and_downloads(page: Page, sign_in: Callable[..., object], email: str,
                                                         new_page: Callable[[], Page]) -> None:
    sign_in(page, email)
    expect_usage(page, "images_count", "0 / 6", percent="0.0", color="violet")
    narration = "Deep below the ground, pressure builds up in the magma chamber until the rock gives way."
    fill_form(page, "How volcanoes work", [("Magma rises", None), ("Pressure builds", narration),
                                           ("The volcano erupts", None)])
    estimate = page.locator("#estimate")
    expect(estimate.get_by_test_id("estimate-images_count")).to_have_text("3 images · 6 left")
    expect(estimate.get_by_test_id("estimate-tts_seconds")).to_have_text(
        re.compile(r"^about [\d.]+ (s|min) of narration · [\d,.]+ (s|min) left$"))
    expect(estimate.get_by_test_id("estimate-render_minutes")).to_have_text(
        re.compile(r"^[\d.]+ (s|min) of rendering · [\d,.]+ (s|min) left$"))
    expect(estimate.get_by_test_id("estimate-storage_mb")).to_have_text(
        re.compile(r"^up to [\d.]+ (KB|MB) of storage · [\d,.]+ (MB|GB) left$"))
    screenshot(page, "render-01-create-filled")

    render_id = submit_render(page)
    page.evaluate("window.__e2eSameDocument = true")  # gone if anything reloads the page
    expect(page.get_by_role("heading", name="How volcanoes work")).to_be_visible()
    expect(page.locator(".render-step")).to_have_count(STEP_COUNT)
    snapshots = watch_steps(page)
    assert page.evaluate("window.__e2eSameDocument === true"), "the render page reloaded"
    assert snapshots[0] != ["done"] * STEP_COUNT and len(snapshots) >= 2, f"no live progress seen: {snapshots}"
    for earlier, later in itertools.pairwise(snapshots):  # steps only move forward
        order = {"pending": 0, "running": 1, "done": 2}
        assert all(order[a] <= order[b] for a, b in zip(earlier, later, strict=True)), snapshots

    expect(page.locator(".status-badge").first).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#cancel-render")).to_have_count(0)
    expect(page.locator("#charged")).to_contain_text("3 images")
    speech_detail = page.locator(".render-step").first.inner_text()
    narrated = float(re.search(r"([\d.]+) s of narration", speech_detail).group(1))  # type: ignore[union-attr]
    assert narrated > 1

    video = page.locator("#render-video")
    expect(video).to_be_visible()
    playback = video.evaluate("""async (v) => {
        if (v.readyState < 1) await new Promise((ok, bad) => {
            v.addEventListener('loadedmetadata', ok, {once: true});
            v.addEventListener('error', () => bad(new Error('video error ' + (v.error && v.error.code))), {once: true});
        });
        v.muted = true;
        await v.play();
        const start = v.currentTime;
        await new Promise(ok => setTimeout(ok, 1000));
        return {duration: v.duration, start, now: v.currentTime, paused: v.paused};
    }""")
    assert playback["now"] > playback["start"] and not playback["paused"], playback
    assert playback["duration"] > 1 and abs(playback["duration"] - narrated) < 0.6, (playback, narrated)
    video.evaluate("v => v.pause()")
    screenshot(page, "render-02-done")

    href = page.locator("#download-link").get_attribute("href")
    assert href == f"/api/renders/{render_id}/video"
    response = page.request.get(href)
    assert response.status == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.body()[4:8] == b"ftyp"

    expect_usage(page, "images_count", "3 / 6", percent="50.0", color="violet")
    expect(page.locator("#usage-warning")).to_have_count(0)

    stranger = new_page()  # another workspace sees neither the page nor the file
    sign_in(stranger, f"other-{email}")
    stranger.goto(f"/render/{render_id}")
    expect(stranger.get_by_role("heading", name="Video not found")).to_be_visible()
    expect(stranger.get_by_text("How volcanoes work")).to_have_count(0)
    assert stranger.request.get(href).status == 404


def test_scene_editing_and_validation(page: Page, sign_in: Callable[..., object], live_app: LiveApp,
                                      email: str) -> None:
    sign_in(page, email)
    expect(page.locator(".scene-card")).to_have_count(1)
    expect(page.get_by_role("button", name="Remove scene 1")).to_be_disabled()
    expect(page.get_by_role("button", name="Move scene 1 up")).to_be_disabled()
    expect(page.locator("#estimate")).to_have_count(0)

    for i, text in enumerate(["Alpha", "Bravo", "Charlie"]):
        if i:
            page.locator("#add-scene").click()
        page.locator(f"#scene-text-{i}").fill(text)
    expect(page.locator(".scene-card")).to_have_count(3)
    expect(page.get_by_role("button", name="Move scene 3 down")).to_be_disabled()
    expect(page.get_by_role("button", name="Remove scene 1")).to_be_enabled()

    page.get_by_role("button", name="Move scene 2 up").click()
    for i, text in enumerate(["Bravo", "Alpha", "Charlie"]):
        expect(page.locator(f"#scene-text-{i}")).to_have_value(text)
    page.get_by_role("button", name="Move scene 1 down").click()
    for i, text in enumerate(["Alpha", "Bravo", "Charlie"]):
        expect(page.locator(f"#scene-text-{i}")).to_have_value(text)

    page.get_by_role("button", name="Remove scene 2").click()
    expect(page.locator(".scene-card")).to_have_count(2)
    expect(page.locator("#scene-text-0")).to_have_value("Alpha")
    expect(page.locator("#scene-text-1")).to_have_value("Charlie")
    page.locator("#scene-text-1").fill("")
    screenshot(page, "render-03-create-edited")

    page.locator("#create-submit").click()
    expect(page.locator("#form-error")).to_have_text("Please fix the highlighted fields.")
    expect(page.get_by_role("alert").filter(has_text="Topic is required.")).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="Scene text is required.")).to_be_visible()
    screenshot(page, "render-04-create-errors")
    expect(page).to_have_url(url_re("/create"))
    assert render_count(live_app, email) == 0

    page.locator("#topic").fill("Fixed topic")
    expect(page.get_by_text("Topic is required.")).to_have_count(0)
    expect(page.locator("#form-error")).to_have_count(0)
    expect(page.get_by_text("Scene text is required.")).to_be_visible()
    assert render_count(live_app, email) == 0
    expect_usage(page, "images_count", "0 / 6")


def test_premium_options_need_pro(page: Page, sign_in: Callable[..., object], live_app: LiveApp,
                                  email: str) -> None:
    sign_in(page, email)
    fill_form(page, "Premium look", SHORT_SCENES[:1])
    page.locator("#pick-template").select_option("sunset")
    page.locator("#create-submit").click()
    expect(page.locator("#form-error")).to_have_text(
        "The Sunset template is available on the Pro plan and above. Upgrade to use it.")
    expect(page.locator("#upgrade-link")).to_have_attribute("href", "/billing")

    page.locator("#pick-template").select_option("aurora")
    expect(page.locator("#form-error")).to_have_count(0)  # any change clears the refusal
    page.locator("#pick-resolution").select_option("1080p")
    page.locator("#create-submit").click()
    expect(page.locator("#form-error")).to_have_text(
        "1080p output is available on the Pro plan and above. Upgrade to use it.")
    expect(page.locator("#upgrade-link")).to_be_visible()
    assert render_count(live_app, email) == 0
    expect_usage(page, "images_count", "0 / 6")


def test_refusal_is_gone_when_coming_back_to_create(page: Page, sign_in: Callable[..., object], email: str) -> None:
    hydration = Hydration(page)
    sign_in(page, email)
    fill_form(page, "Premium look", SHORT_SCENES[:1])
    page.locator("#pick-template").select_option("sunset")
    page.locator("#create-submit").click()
    page.locator("#upgrade-link").click()
    expect(page).to_have_url(url_re("/billing"))
    done = hydration.count
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Create").click()
    expect(page.get_by_role("heading", name="Create a video")).to_be_visible()
    hydration.wait_after(done)  # the page's state has arrived: an absence now means something
    expect(page.locator("#form-error")).to_have_count(0)


def test_double_click_on_create_leaves_no_errors_behind(page: Page, sign_in: Callable[..., object],
                                                        live_app: LiveApp, email: str) -> None:
    hydration = Hydration(page)
    sign_in(page, email)
    fill_form(page, "Clicked twice", SHORT_SCENES[:1])
    page.locator("#create-submit").dblclick()
    expect(page).to_have_url(RENDER_URL_RE)
    wait_succeeded(page)
    assert render_count(live_app, email) == 1  # one render, not two
    done = hydration.count
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Create").click()
    expect(page.get_by_role("heading", name="Create a video")).to_be_visible()
    hydration.wait_after(done)
    expect(page.get_by_role("alert")).to_have_count(0)


def test_library_shows_the_render_and_deletes_it(page: Page, sign_in: Callable[..., object], email: str) -> None:
    sign_in(page, email)
    topic = "Library volcano"
    render_id = create_render(page, topic, SHORT_SCENES[:2])
    wait_succeeded(page)
    duration = re.search(r"\b\d+:\d\d\b", page.locator("#download-link").locator("xpath=..").inner_text())
    assert duration is not None, "no duration next to the download button"

    page.get_by_role("link", name="Library", exact=True).click()
    expect(page).to_have_url(url_re("/library"))
    card = page.locator(".library-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text(topic)
    expect(card.locator(".status-badge")).to_have_attribute("data-status", "succeeded")
    expect(card).to_contain_text(duration.group(0))
    thumb = card.get_by_role("img", name=f"Thumbnail of {topic}")
    expect(thumb).to_be_visible()
    expect(thumb).to_have_attribute("src", re.compile(rf"/api/renders/{render_id}/thumbnail$"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    expect(card.get_by_role("link").first).to_have_attribute("href", re.compile(rf"/render/{render_id}/?$"))
    expect(usage_bar(page, "storage_mb").locator("p").nth(1)).not_to_have_text(EMPTY_STORAGE)
    screenshot(page, "render-05-library")

    page.get_by_role("button", name=f"Delete {topic}").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Delete this video?")
    expect(dialog).to_contain_text(topic)
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_have_count(0)
    expect(card).to_have_count(1)

    page.get_by_role("button", name=f"Delete {topic}").click()
    expect(dialog).to_be_visible()
    dialog.evaluate("el => Promise.all(el.getAnimations({subtree: true}).map(a => a.finished))")
    screenshot(page, "render-06-library-confirm-delete")
    page.locator("#confirm-delete").click()
    expect(page.locator("#library-empty")).to_be_visible()
    expect(page.locator("#library-empty")).to_contain_text("No videos yet")
    expect(card).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text=f"Deleted “{topic}”.")).to_be_visible()
    expect_usage(page, "storage_mb", EMPTY_STORAGE, percent="0.0")
    assert page.request.get(f"/api/renders/{render_id}/thumbnail").status == 404
    screenshot(page, "render-07-library-empty")

    page.reload()
    expect(page.locator("#library-empty")).to_be_visible()
    expect_usage(page, "storage_mb", EMPTY_STORAGE, percent="0.0")


def test_quota_reached_blocks_the_next_render_with_an_upgrade_link(page: Page, sign_in: Callable[..., object],
                                                                    email: str) -> None:
    sign_in(page, email)
    create_render(page, "First of two", SHORT_SCENES)
    wait_succeeded(page)
    expect_usage(page, "images_count", "3 / 6", percent="50.0", color="violet")
    expect(page.locator("#usage-warning")).to_have_count(0)

    page.goto("/create")
    fill_form(page, "Too big", [*SHORT_SCENES, ("One scene too many", None)])
    expect(page.get_by_test_id("estimate-images_count")).to_have_text("4 images · 3 left")
    expect(page.get_by_test_id("estimate-images_count")).to_have_attribute("data-fits", "no")
    expect(page.locator("#create-blocked")).to_have_text(
        "Not enough images left this month: this video needs 4 images, your plan has 3 images left.")
    expect(page.locator("#create-submit")).to_be_disabled()
    expect(page.get_by_test_id("blocked-upgrade-link")).to_have_attribute("href", "/billing")
    expect(page).to_have_url(url_re("/create"))

    page.get_by_role("button", name="Remove scene 4").click()
    expect(page.locator("#create-blocked")).to_have_count(0)
    expect(page.locator("#create-submit")).to_be_enabled()
    page.locator("#topic").fill("Second of two")
    submit_render(page)
    wait_succeeded(page)
    expect_usage(page, "images_count", "6 / 6", percent="100.0", color="red")
    expect(page.locator("#usage-warning")).to_have_text("You have used all of your images for this month.")
    expect(page.locator("#usage-upgrade")).to_be_visible()
    expect(page.locator("#usage-upgrade")).to_have_attribute("href", "/billing")

    page.goto("/create")
    fill_form(page, "One more", SHORT_SCENES[:1])
    expect(page.locator("#create-submit")).to_be_disabled()
    expect(page.locator("#create-blocked")).to_contain_text("this video needs 1 image, your plan has 0 images left")
    upgrade = page.get_by_test_id("blocked-upgrade-link")
    expect(upgrade).to_have_text("See plans and upgrade")
    screenshot(page, "render-08-quota-exceeded")
    upgrade.click()
    expect(page).to_have_url(url_re("/billing"))
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()


def test_banner_turns_orange_near_a_limit(page: Page, sign_in: Callable[..., object], live_app: LiveApp,
                                          email: str) -> None:
    """90 % of a metric: orange bar, the warning and the upgrade link (usage seeded in the ledger)."""
    sign_in(page, email)
    expect_usage(page, "tts_seconds", "0 min / 1,000 min", color="violet")
    tenant = tenant_of(live_app, email)
    period = time.strftime("%Y-%m", time.gmtime())
    with live_app.db() as db:  # 900 of the 1,000 minutes of speech, as the ledger would hold them
        db.execute("INSERT INTO usagerecord (tenant_id, metric, amount, period, event_key, created_at) "
                   "VALUES (?, 'tts_seconds', 54000, ?, ?, CURRENT_TIMESTAMP)", (tenant, period, f"e2e-seed:{tenant}"))
    live_app.redis.hdel(f"usage:{tenant}:gauge", "ready")  # the counters rebuild from the ledger on the next read
    page.reload()
    expect_usage(page, "tts_seconds", "900 min / 1,000 min", percent="90.0", color="orange")
    expect_usage(page, "images_count", "0 / 6", color="violet")
    expect(page.locator("#usage-warning")).to_have_text("You have used 90% or more of your speech this month.")
    expect(page.locator("#usage-upgrade")).to_be_visible()
    screenshot(page, "render-09-usage-orange")


def test_cancel_a_long_render(page: Page, sign_in: Callable[..., object], email: str) -> None:
    sign_in(page, email)
    long_text = ("This narration goes on and on about rocks, rivers and the slow work of time, "
                 "so that the render takes long enough to be stopped part way through. ") * 6
    scenes: Scenes = [(f"Long scene {i + 1}", long_text) for i in range(4)]
    render_id = create_render(page, "A very long video", scenes)

    page.goto("/create")  # Free runs one render at a time: a second one is refused while this one runs
    fill_form(page, "Meanwhile", SHORT_SCENES[:1])
    page.locator("#create-submit").click()
    expect(page.locator("#form-error")).to_contain_text(re.compile(r"Your plan makes 1 video at a time"))
    expect(page.locator("#upgrade-link")).to_have_count(0)

    page.goto(f"/render/{render_id}")
    cancel = page.locator("#cancel-render")
    expect(cancel).to_be_visible()
    assert "done" not in step_statuses(page)[-1:], "the render finished before it could be canceled"
    cancel.click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Cancel this video?")
    expect(dialog.get_by_test_id("cancel-charges")).to_contain_text("Nothing more will be charged")
    expect(dialog).to_contain_text("the video itself is not charged")
    dialog.evaluate("el => Promise.all(el.getAnimations({subtree: true}).map(a => a.finished))")
    screenshot(page, "render-cancel-dialog")
    dialog.get_by_test_id("keep-rendering").click()
    expect(dialog).to_have_count(0)
    expect(cancel).to_be_visible()  # asked, not canceled
    cancel.click()
    page.get_by_test_id("confirm-cancel").click()
    expect(page.locator(".status-badge").first).to_have_attribute("data-status", "canceled")
    expect(page.get_by_role("status").filter(has_text="Render canceled. Nothing more will be charged.")).to_be_visible()
    expect(cancel).to_have_count(0)
    expect(page.locator("#render-video")).to_have_count(0)
    statuses = step_statuses(page)
    assert "canceled" in statuses and statuses[-1] == "canceled", statuses
    screenshot(page, "render-10-canceled")

    page.reload()  # the outcome is stored, not just shown
    expect(page.locator(".status-badge").first).to_have_attribute("data-status", "canceled")
    expect(page.locator("#cancel-render")).to_have_count(0)
