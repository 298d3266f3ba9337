"""`/render/[id]`: live progress per step; when done, "Your video is ready" with the player and
Download above the fold, then the ways on; cancel after a confirmation; errors."""

from __future__ import annotations

import reflex as rx

from saas_app import routes
from saas_app.components.file_link import file_download
from saas_app.components.status_badge import status_badge
from saas_app.components.theme import DANGER, MUTED
from saas_app.state.create import CreateState
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
            spacing="1", width="100%", min_width="0",
        ),
        width="100%", align="start", spacing="3", class_name="render-step", data_status=step["status"],
        data_testid="render-step",
    )


def _result() -> rx.Component:
    return rx.cond(
        RenderState.video_url != "",
        rx.vstack(
            rx.el.video(src=RenderState.video_url, controls=True, preload="metadata", width="100%",
                        style={"borderRadius": "8px", "background": "black", "maxWidth": "720px",
                               "maxHeight": "50vh", "aspectRatio": "16 / 9"},
                        id="render-video", aria_label="Your video", data_testid="render-video"),
            rx.hstack(
                rx.button(file_download(rx.icon("download", size=16), "Download MP4", href=RenderState.video_url,
                                        id="download-link", data_testid="download-mp4"),
                          as_child=True, color_scheme="violet", size="3"),
                rx.cond(RenderState.has_captions, rx.hstack(
                    *[rx.button(file_download(rx.icon("captions", size=16), f"Captions .{ext}", href=url,
                                              id=f"captions-{ext}-link", data_testid=f"download-captions-{ext}"),
                                as_child=True, variant="soft")
                      for ext, url in (("srt", RenderState.captions_srt_url), ("vtt", RenderState.captions_vtt_url))],
                    spacing="2")),
                rx.text(RenderState.duration, color=MUTED, id="video-duration", data_testid="video-duration"),
                rx.button(rx.icon("plus", size=16), "Create another", variant="soft", color_scheme="violet", size="3",
                          on_click=CreateState.start_blank, data_testid="create-another"),
                rx.button(rx.icon("pencil", size=16), "Edit & re-render", variant="soft", color_scheme="gray",
                          size="3", on_click=RenderState.edit_rerender, data_testid="edit-rerender"),
                align="center", spacing="3", wrap="wrap",
            ),
            spacing="3", width="100%",
        ),
    )


def _cancel_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Cancel this video?"),
            rx.alert_dialog.description(RenderState.cancel_text, data_testid="cancel-charges"),
            rx.text(RenderState.charge_rule, size="2", color=MUTED, margin_top="0.75em"),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Keep rendering", variant="soft", color_scheme="gray",
                                                 on_click=RenderState.keep_going, data_testid="keep-rendering")),
                rx.alert_dialog.action(rx.button("Cancel video", color_scheme="red", on_click=RenderState.cancel,
                                                 data_testid="confirm-cancel")),
                spacing="3", justify="end", margin_top="1em", wrap="wrap",
            ),
        ),
        open=RenderState.confirm_cancel,
    )


def _heading() -> rx.Component:
    return rx.vstack(
        rx.cond(
            RenderState.succeeded,
            rx.vstack(rx.heading("Your video is ready", size="7", as_="h1", data_testid="render-heading"),
                      rx.text(RenderState.topic, size="4", weight="medium", data_testid="render-topic",
                              class_name="wrap-anywhere"),
                      spacing="1"),
            rx.heading(RenderState.topic, size="7", as_="h1", data_testid="render-heading", class_name="wrap-anywhere"),
        ),
        rx.hstack(status_badge(RenderState.status),
                  rx.text(RenderState.timing, size="2", color=MUTED, data_testid="render-timing"),
                  align="center", spacing="3", wrap="wrap"),
        spacing="2", width="100%",
    )


def _details() -> rx.Component:
    return rx.vstack(
        _heading(),
        rx.cond(RenderState.error != "", rx.callout(RenderState.error, icon="circle-x", color_scheme="red",
                                                    role="alert", id="render-error", data_testid="render-error")),
        rx.cond(RenderState.notes != "", rx.callout(RenderState.notes, icon="info", color_scheme="blue")),
        _result(),
        rx.card(rx.vstack(rx.foreach(RenderState.steps, _step), spacing="4", width="100%"), width="100%",
                max_width="640px"),
        rx.cond(RenderState.charged.length() > 0,
                rx.text("Charged: ", RenderState.charged.join(", "), size="2", color=MUTED, id="charged",
                        data_testid="render-charged")),
        rx.cond(RenderState.action_message != "", rx.text(RenderState.action_message, role="status",
                                                          data_testid="render-message")),
        rx.hstack(
            rx.cond(~RenderState.finished,
                    rx.button("Cancel render", on_click=RenderState.ask_cancel, color_scheme="red", variant="soft",
                              id="cancel-render", data_testid="cancel-render")),
            rx.link(rx.button("Back to library", variant="soft", color_scheme="gray"), href=routes.LIBRARY,
                    data_testid="back-to-library"),
            spacing="3", wrap="wrap",
        ),
        _cancel_dialog(),
        spacing="4", width="100%", min_width="0",
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
