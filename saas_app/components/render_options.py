"""The create page's format, captions and music pickers, the image and music uploads, the per-scene
image picker and the first-frame preview (state: `state/render_options.py`, mixed into CreateState)."""

from __future__ import annotations

import reflex as rx

from saas_app.components.theme import MUTED
from saas_app.state.create import CreateState
from saas_app.state.render_options import IMAGE_UPLOAD_ID, MUSIC_UPLOAD_ID

_IMAGE_TYPES = {"image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"], "image/webp": [".webp"]}
_MUSIC_TYPES = {"audio/mpeg": [".mp3"], "audio/wav": [".wav"], "audio/x-wav": [".wav"]}


def _select(label: str, name: str, value: rx.Var, options: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=f"pick-{name}", font_weight="600"),
        rx.el.select(rx.foreach(options, lambda o: rx.el.option(o["label"], value=o["id"])), id=f"pick-{name}",
                     value=value, on_change=lambda v: CreateState.set_render_option(name, v),
                     class_name="native-select"),
        spacing="1", min_width="200px",
    )


def _drop_zone(upload_id: str, text: str, accept: dict[str, list[str]], handler: rx.EventHandler) -> rx.Component:
    # The label around the zone names its file input for assistive technology and opens the file dialog on
    # a click (the zone's own click is off, so one click opens one dialog); Enter/Space still open it.
    return rx.el.label(rx.upload.root(
        rx.hstack(rx.icon("upload", size=16), rx.text(text, size="2"), align="center", spacing="2"),
        id=upload_id, accept=accept, max_files=1, multiple=False, no_click=True,
        on_drop=handler(rx.upload_files(upload_id=upload_id)),
        border="1px dashed #a78bfa", border_radius="8px", padding="0.6em 1em", cursor="pointer",
    ), display="block")


def scene_image_picker(scene: rx.Var, index: rx.Var) -> rx.Component:
    """A scene's image: a title card, or an image from the workspace's library."""
    picker_id = "scene-image-" + index.to_string()
    return rx.vstack(
        rx.el.label("Image", html_for=picker_id, font_weight="500"),
        rx.el.select(rx.foreach(CreateState.image_choices, lambda o: rx.el.option(o["label"], value=o["id"])),
                     id=picker_id, value=scene["image"], class_name="native-select",
                     on_change=lambda v: CreateState.choose_scene_image(index, v)),
        spacing="1", width="100%",
    )


def render_options_panel() -> rx.Component:
    """Format, captions, music (a bed or an upload, with its volume), image uploads and the preview."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                _select("Format", "aspect", CreateState.aspect, CreateState.aspect_options),
                _select("Captions", "captions", CreateState.captions, CreateState.caption_options),
                _select("Music", "music", CreateState.music, CreateState.music_choices),
                rx.vstack(
                    rx.el.label("Music volume ", CreateState.music_volume.to_string(), "%", html_for="music-volume",
                                font_weight="600"),
                    rx.el.input(type="range", id="music-volume", min="0", max="100", step="5",
                                value=CreateState.music_volume,
                                on_change=lambda v: CreateState.set_render_option("music_volume", v)),
                    spacing="1",
                ),
                spacing="4", wrap="wrap",
            ),
            rx.hstack(
                _drop_zone(IMAGE_UPLOAD_ID, "Add an image (PNG, JPEG or WebP, up to 10 MB)", _IMAGE_TYPES,
                           CreateState.upload_image),
                _drop_zone(MUSIC_UPLOAD_ID, "Add music (MP3 or WAV, up to 20 MB)", _MUSIC_TYPES,
                           CreateState.upload_music),
                spacing="3", wrap="wrap",
            ),
            rx.cond(CreateState.options_message != "",
                    rx.text(CreateState.options_message, size="2", role="status", id="options-message")),
            rx.hstack(
                rx.button(rx.icon("eye", size=16), "Preview first frame", on_click=CreateState.show_preview,
                          variant="soft", color_scheme="violet", id="preview-button"),
                rx.text("Captions are also downloadable as .srt and .vtt.", size="1", color=MUTED),
                align="center", spacing="3", wrap="wrap",
            ),
            rx.cond(CreateState.preview_src != "",
                    rx.image(src=CreateState.preview_src, alt="Preview of the first frame", id="first-frame-preview",
                             max_height="360px", border_radius="6px")),
            spacing="3", width="100%",
        ),
        width="100%", on_mount=CreateState.load_choices,
    )
