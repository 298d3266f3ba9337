"""`/render/[id]`: live progress per step, the player and download when done, cancel, errors."""

from __future__ import annotations

import reflex as rx

from saas_app import routes
from saas_app.components.status_badge import status_badge
from saas_app.components.theme import DANGER, MUTED
from saas_app.state.formatting import STEP_ICONS, STEP_RUNNING
from saas_app.state.render import RenderState

_ICON_COLORS = {"circle-check": "#15803d", "circle-x": DANGER, "circle-slash": "#b45309"}


def _step(step: rx.Var) -> rx.Component:
    icon = rx.match(
        step["status"],
        (STEP_RUNNING, rx.spinner(size="2")),
        *[(status, rx.icon(name, color=_ICON_COLORS[name], size=20)) for status, name in STEP_ICONS],
        rx.icon("circle", color="#9ca3af", size=20),
    )
    return rx.hstack(
        icon,
        rx.vstack(
            rx.hstack(rx.text(step["label"], weight="medium"), rx.spacer(),
                      rx.text(step["percent"], "%", size="2", color=MUTED), width="100%"),
            rx.box(
                rx.box(height="100%", width=step["percent"] + "%", background="#6d28d9", border_radius="4px",
                       transition="width 0.3s"),
                height="8px", width="100%", background="#ede9fe", border_radius="4px", role="progressbar",
                aria_label=step["label"] + " progress", aria_valuenow=step["percent"], aria_valuemin="0",
                aria_valuemax="100",
            ),
            rx.cond(step["detail"] != "", rx.text(step["detail"], size="1", color=MUTED)),
            spacing="1", width="100%",
        ),
        width="100%", align="start", spacing="3", class_name="render-step", data_status=step["status"],
    )


def _result() -> rx.Component:
    return rx.cond(
        RenderState.video_url != "",
        rx.vstack(
            rx.el.video(src=RenderState.video_url, controls=True, preload="metadata", width="100%",
                        style={"borderRadius": "8px", "background": "black", "maxWidth": "960px"},
                        id="render-video", aria_label="Your video"),
            rx.hstack(
                rx.el.a(rx.button(rx.icon("download", size=16), "Download MP4", color_scheme="violet"),
                        href=RenderState.video_url, download="", id="download-link"),
                rx.cond(RenderState.has_captions, rx.hstack(
                    *[rx.button(rx.icon("captions", size=16), f"Captions .{ext}", variant="soft",
                                id=f"captions-{ext}-link", on_click=rx.download(  # a real download, not a route
                                    url=url, filename=RenderState.render_id + f"-captions.{ext}"))
                      for ext, url in (("srt", RenderState.captions_srt_url), ("vtt", RenderState.captions_vtt_url))],
                    spacing="2")),
                rx.text(RenderState.duration, color=MUTED), align="center", spacing="3", wrap="wrap",
            ),
            spacing="3", width="100%",
        ),
    )


def _details() -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.heading(RenderState.topic, size="7", as_="h1"), status_badge(RenderState.status),
                  align="center", spacing="3", wrap="wrap"),
        rx.text("Started ", RenderState.created, size="2", color=MUTED),
        rx.cond(RenderState.error != "", rx.callout(RenderState.error, icon="circle-x", color_scheme="red",
                                                    role="alert", id="render-error")),
        rx.cond(RenderState.notes != "", rx.callout(RenderState.notes, icon="info", color_scheme="blue")),
        rx.card(rx.vstack(rx.foreach(RenderState.steps, _step), spacing="4", width="100%"), width="100%",
                max_width="640px"),
        _result(),
        rx.cond(RenderState.charged.length() > 0,
                rx.text("Charged: ", RenderState.charged.join(", "), size="2", color=MUTED, id="charged")),
        rx.cond(RenderState.action_message != "", rx.text(RenderState.action_message, role="status")),
        rx.hstack(
            rx.cond(~RenderState.finished,
                    rx.button("Cancel render", on_click=RenderState.cancel, color_scheme="red", variant="soft",
                              id="cancel-render")),
            rx.link(rx.button("Back to library", variant="soft", color_scheme="gray"), href=routes.LIBRARY),
            spacing="3",
        ),
        spacing="4", width="100%",
    )


def render_page() -> rx.Component:
    """One render, or a plain not-found message."""
    return rx.cond(
        RenderState.not_found,
        rx.vstack(rx.heading("Video not found", size="6", as_="h1"),
                  rx.text("It may have been deleted, or it belongs to another workspace.", color=MUTED),
                  rx.link("Go to your library", href=routes.LIBRARY)),
        rx.cond(RenderState.status == "", rx.center(rx.spinner(), padding="3em"), _details()),
    )
