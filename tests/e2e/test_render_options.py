"""The create page's format, captions, music and own-image options in a real browser: an upload to
the library (a bad file refused in plain words), the first-frame preview, and a vertical render with
captions and music whose caption files download from the render page."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from pathlib import Path

import pysubs2
import pytest
from e2e_helpers import screenshot, url_re
from e2e_renders import fill_form, submit_render, wait_succeeded
from PIL import Image
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e
RED = (220, 30, 30)


def _red_png(tmp_path: Path) -> Path:
    path = tmp_path / "red.png"
    Image.new("RGB", (800, 600), RED).save(path)
    return path


def _corner_colour(data_url: str) -> tuple[int, int, int]:
    assert data_url.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB")
    pixel = image.crop((4, 4, 24, 24)).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def test_vertical_render_with_own_image_captions_and_music(page: Page, sign_in: Callable[..., object],
                                                           email: str, tmp_path: Path) -> None:
    sign_in(page, email)
    page.goto("/create")
    fill_form(page, "Red things", [("Fire trucks are red.", None)])
    page.locator("#pick-aspect").select_option("9:16")
    page.locator("#pick-captions").select_option("words")
    expect(page.locator("#pick-music option")).to_have_count(4)  # none and three beds: the library has no music
    page.locator("#pick-music").select_option("calm")

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    page.locator("#image-upload input[type=file]").set_input_files(str(bad))
    expect(page.locator("#options-message")).to_contain_text("could not be read as a PNG, JPEG or WebP")
    expect(page.locator("#scene-image-0 option")).to_have_count(1)  # nothing was added

    with page.expect_file_chooser() as chooser:  # a click on the zone opens the file dialog, as a person would
        page.locator("#image-upload").get_by_text(re.compile(r"^Add an image")).click()
    chooser.value.set_files(str(_red_png(tmp_path)))
    expect(page.locator("#options-message")).to_have_text("Added red.png to your library.")
    expect(page.locator("#scene-image-0 option")).to_have_count(2)
    expect(page.locator("#scene-image-0")).not_to_have_value("")  # the new image went to the scene

    page.locator("#preview-button").click()
    preview = page.locator("#first-frame-preview")
    expect(preview).to_be_visible()
    size = preview.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert size[0] * 16 == size[1] * 9, size  # the 9:16 frame
    r, g, b = _corner_colour(str(preview.get_attribute("src")))
    assert r > 100 and r > 2.5 * g and r > 2.5 * b, (r, g, b)  # the uploaded image fills the frame
    screenshot(page, "render-options-01-preview")

    submit_render(page)
    wait_succeeded(page)
    video = page.locator("#render-video")
    dims = video.evaluate("""async (v) => {
        if (v.readyState < 1) await new Promise(ok => v.addEventListener('loadedmetadata', ok, {once: true}));
        return [v.videoWidth, v.videoHeight];
    }""")
    assert dims == [720, 1280]
    for key, fmt in (("srt", "srt"), ("vtt", "vtt")):
        with page.expect_download() as started:
            page.locator(f"#captions-{key}-link").click()
        download = started.value
        assert download.suggested_filename == f"red-things-captions.{key}"  # named after the topic
        subs = pysubs2.load(download.path(), format_=fmt)
        assert " ".join(e.plaintext for e in subs) == "Fire trucks are red."
    screenshot(page, "render-options-02-done")

    render_url = page.url
    page = page.context.new_page()  # a new tab: its form comes from the render, not from what was last typed
    page.goto(render_url)
    page.get_by_test_id("edit-rerender").click()
    expect(page).to_have_url(url_re("/create"))
    expect(page.locator("#topic")).to_have_value("Red things")
    expect(page.locator("#pick-aspect")).to_have_value("9:16")
    expect(page.locator("#pick-captions")).to_have_value("words")
    expect(page.locator("#pick-music")).to_have_value("calm")
    expect(page.locator("#scene-image-0")).not_to_have_value("")  # the uploaded image, still in the scene
