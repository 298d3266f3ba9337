"""The render page of a finished video: a real download named after the topic, what a finished
render shows above the fold, and the ways on (create another, edit & re-render)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_helpers import (
    READY_BADGE,
    expect_in_viewport,
    expect_no_horizontal_overflow,
    screenshot,
    url_re,
)
from e2e_renders import SHORT_SCENES, create_render, fill_form, wait_succeeded
from playwright.sync_api import Page, expect

from saas_app.services.renders.media import video
from saas_app.state.formatting import format_duration

pytestmark = pytest.mark.e2e

NARRATION = "Deep below the ground, pressure builds up in the magma chamber."


def _saved_download(page: Page, trigger: Callable[[], object], folder: Path) -> tuple[str, Path]:
    """Run `trigger`, wait for the browser's download event, save the file; (suggested name, path)."""
    with page.expect_download() as info:
        trigger()
    download = info.value
    assert download.failure() is None, download.failure()
    target = folder / f"{len(list(folder.iterdir()))}-{download.suggested_filename}"
    download.save_as(target)
    return download.suggested_filename, target


def _assert_valid_mp4(path: Path, seconds: float) -> None:
    """ffmpeg reads it as H.264 + AAC of about `seconds`, and decodes every frame without an error."""
    info = video.probe(path)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac"), info
    assert abs(info.seconds - seconds) < 0.6, (info, seconds)
    decoded = subprocess.run([video.ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
                             capture_output=True, text=True, timeout=120)
    assert decoded.returncode == 0 and decoded.stderr.strip() == "", decoded.stderr


def _player_duration(page: Page) -> float:
    return float(page.get_by_test_id("render-video").evaluate("""async (v) => {
        if (v.readyState < 1) await new Promise(ok => v.addEventListener('loadedmetadata', ok, {once: true}));
        return v.duration;
    }"""))


def test_a_finished_video_downloads_with_its_topic_as_name_from_above_the_fold(
        page: Page, sign_in: Callable[..., object], email: str, tmp_path: Path) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, email)
    create_render(page, "How volcanoes work", [("Magma rises", NARRATION), ("Lava flows", None)])
    wait_succeeded(page)
    expect(page.get_by_test_id("render-heading")).to_have_text("Your video is ready")
    expect(page.get_by_test_id("render-topic")).to_have_text("How volcanoes work")
    expect(page.locator(".status-badge").first).to_have_text(READY_BADGE)
    expect(page.get_by_test_id("render-timing")).to_have_text(re.compile(r"^Finished in (\d+ s|\d+ min( \d+ s)?)$"))
    for testid in ("render-video", "download-mp4", "video-duration", "create-another", "edit-rerender"):
        expect_in_viewport(page, page.get_by_test_id(testid))
    screenshot(page, "render-page-ready-1280")

    seconds = _player_duration(page)
    assert seconds > 1
    expect(page.get_by_test_id("video-duration")).to_have_text(format_duration(seconds))  # the player's own count
    before = page.url
    for press in (lambda: page.get_by_test_id("download-mp4").click(),
                  lambda: (page.get_by_test_id("download-mp4").focus(), page.keyboard.press("Enter"))):
        name, saved = _saved_download(page, press, tmp_path)
        assert name == "how-volcanoes-work.mp4"
        _assert_valid_mp4(saved, seconds)
        assert page.url == before  # the app did not navigate to a "page not found"
        expect(page.get_by_test_id("render-heading")).to_have_text("Your video is ready")

    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_test_id("download-mp4")).to_be_visible()
    expect_no_horizontal_overflow(page)
    screenshot(page, "render-page-ready-390")


def test_edit_and_rerender_opens_create_filled_and_create_another_opens_it_empty(
        page: Page, sign_in: Callable[..., object], email: str) -> None:
    sign_in(page, email)
    create_render(page, "Edit me later", [("First scene", NARRATION), ("Second scene", None)])
    wait_succeeded(page)

    page.get_by_test_id("edit-rerender").click()
    expect(page).to_have_url(url_re("/create"))
    expect(page.locator("#topic")).to_have_value("Edit me later")
    expect(page.locator(".scene-card")).to_have_count(2)
    expect(page.locator("#scene-text-0")).to_have_value("First scene")
    expect(page.locator("#scene-narration-0")).to_have_value(NARRATION)
    expect(page.locator("#scene-text-1")).to_have_value("Second scene")
    expect(page.locator("#scene-narration-1")).to_have_value("")
    expect(page.get_by_test_id("estimate-images_count")).to_contain_text("2 images")

    page.go_back()
    expect(page.get_by_test_id("create-another")).to_be_visible()
    page.get_by_test_id("create-another").click()
    expect(page).to_have_url(url_re("/create"))
    expect(page.locator("#topic")).to_have_value("")
    expect(page.locator(".scene-card")).to_have_count(1)
    expect(page.locator("#scene-text-0")).to_have_value("")
    fill_form(page, "Fresh start", SHORT_SCENES[:1])
