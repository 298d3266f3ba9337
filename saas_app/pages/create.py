"""`/create`: topic, scenes (add, edit, reorder, remove), template and voice, estimate, submit."""

from __future__ import annotations

import reflex as rx

from saas_app.components.render_options import render_options_panel, scene_image_picker
from saas_app.components.theme import BRAND, DANGER, MUTED
from saas_app.state.create import MAX_SCENES, CreateState

INPUT_DEBOUNCE_MS = 50  # typing reaches the estimate within ~100 ms (Reflex's default debounce is 300 ms)


def _field_error(key: str | rx.Var) -> rx.Component:
    message = CreateState.errors.get(key, "")
    return rx.cond(message != "", rx.text(message, color=DANGER, size="2", role="alert",
                                          data_testid="field-error-" + key))


def _scene(scene: rx.Var, index: rx.Var) -> rx.Component:
    number = index + 1
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text("Scene ", number, weight="bold"),
                rx.spacer(),
                rx.icon_button(rx.icon("arrow-up", size=16), on_click=CreateState.move_scene(index, -1),
                               variant="soft", color_scheme="gray", disabled=index == 0,
                               aria_label="Move scene " + number.to_string() + " up",
                               id="move-up-" + index.to_string(), data_testid="move-scene-up"),
                rx.icon_button(rx.icon("arrow-down", size=16), on_click=CreateState.move_scene(index, 1),
                               variant="soft", color_scheme="gray", disabled=index == CreateState.scenes.length() - 1,
                               aria_label="Move scene " + number.to_string() + " down",
                               id="move-down-" + index.to_string(), data_testid="move-scene-down"),
                rx.icon_button(rx.icon("trash-2", size=16), on_click=CreateState.remove_scene(index),
                               variant="soft", color_scheme="red", disabled=CreateState.scenes.length() == 1,
                               aria_label="Remove scene " + number.to_string(), data_testid="remove-scene"),
                width="100%", align="center",
            ),
            rx.el.label("On-screen text", html_for="scene-text-" + index.to_string(), font_weight="500"),
            rx.text_area(id="scene-text-" + index.to_string(), value=scene["text"], max_length=300,
                         placeholder="What the viewer reads (up to 300 characters)", width="100%",
                         on_change=lambda v: CreateState.set_scene_field(index, "text", v),
                         debounce_timeout=INPUT_DEBOUNCE_MS,
                         data_testid="scene-text-" + index.to_string()),
            _field_error("scenes." + index.to_string() + ".text"),
            rx.el.label("Narration (optional)", html_for="scene-narration-" + index.to_string(), font_weight="500"),
            rx.text_area(id="scene-narration-" + index.to_string(), value=scene["narration"], max_length=1000,
                         placeholder="What the narrator says (defaults to the on-screen text)", width="100%",
                         on_change=lambda v: CreateState.set_scene_field(index, "narration", v),
                         debounce_timeout=INPUT_DEBOUNCE_MS,
                         data_testid="scene-narration-" + index.to_string()),
            _field_error("scenes." + index.to_string() + ".narration"),
            scene_image_picker(scene, index),
            spacing="2", width="100%",
        ),
        width="100%", class_name="scene-card", data_testid="scene-card",
    )


def _picker(label: str, name: str, value: rx.Var, options: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=f"pick-{name}", font_weight="600"),
        rx.el.select(
            rx.foreach(options, lambda o: rx.el.option(o["label"], value=o["id"])),
            id=f"pick-{name}", value=value, on_change=lambda v: CreateState.set_option(name, v),
            class_name="native-select", data_testid=f"pick-{name}",
        ),
        spacing="1", min_width="200px",
    )


def _quota_line(line: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.cond(line["fits"] == "yes", rx.icon("circle-check", size=14, color="#15803d"),
                rx.icon("circle-x", size=14, color=DANGER)),
        rx.text(line["text"], as_="span", size="2"),
        style={"display": "flex", "gap": "0.4em", "alignItems": "center"},
        data_testid="estimate-" + line["metric"].to(str), data_metric=line["metric"], data_fits=line["fits"],
    )


def _estimate() -> rx.Component:
    return rx.cond(
        CreateState.quota_lines.length() > 0,
        rx.box(
            rx.text("This video will use", size="2", weight="medium", color=MUTED),
            rx.el.ul(rx.foreach(CreateState.quota_lines, _quota_line),
                     style={"listStyle": "none", "padding": 0, "margin": "0.25em 0 0", "display": "grid",
                            "gap": "0.2em"}),
            id="estimate", data_testid="estimate", aria_live="polite", width="100%",
        ),
    )


def _submit_area() -> rx.Component:
    return rx.vstack(
        _estimate(),
        rx.cond(
            CreateState.form_error != "",
            rx.callout.root(
                rx.callout.icon(rx.icon("triangle-alert")),
                rx.callout.text(CreateState.form_error, id="form-error", data_testid="form-error"),
                rx.cond(CreateState.upgrade_hint,
                        rx.link("See plans and upgrade", href=CreateState.upgrade_path, weight="bold",
                                color=BRAND, id="upgrade-link", data_testid="upgrade-link")),
                color_scheme="red", role="alert", width="100%", id="form-error-box", tab_index=-1,
            ),
        ),
        rx.cond(
            CreateState.blocked != "",
            rx.hstack(
                rx.text(CreateState.blocked, size="2", color=DANGER, id="create-blocked",
                        data_testid="create-blocked"),
                rx.link("See plans and upgrade", href=CreateState.upgrade_path, weight="bold", color=BRAND,
                        size="2", data_testid="blocked-upgrade-link"),
                spacing="2", wrap="wrap", align="center",
            ),
        ),
        rx.button(rx.cond(CreateState.submitting, "Submitting…", "Create video"), on_click=CreateState.submit,
                  loading=CreateState.submitting, disabled=CreateState.blocked != "", size="3",
                  color_scheme="violet", id="create-submit", data_testid="create-submit",
                  aria_describedby=rx.cond(CreateState.blocked != "", "create-blocked", "")),
        spacing="3", width="100%", align="start",
    )


def create_page() -> rx.Component:
    """The create form."""
    return rx.vstack(
        rx.heading("Create a video", size="7", as_="h1"),
        rx.text("Give it a topic and a few scenes; we narrate each scene and turn them into a video.", color=MUTED),
        rx.el.label("Topic", html_for="topic", font_weight="600"),
        rx.input(id="topic", value=CreateState.topic, on_change=CreateState.set_topic,
                 debounce_timeout=INPUT_DEBOUNCE_MS, max_length=120, placeholder="e.g. How volcanoes work",
                 size="3", width="100%",
                 data_testid="topic"),
        _field_error("topic"),
        rx.hstack(
            _picker("Template", "template", CreateState.template, CreateState.template_options),
            _picker("Voice", "voice", CreateState.voice, CreateState.voice_options),
            _picker("Resolution", "resolution", CreateState.resolution, CreateState.resolution_options),
            spacing="4", wrap="wrap",
        ),
        render_options_panel(),
        rx.heading("Scenes", size="5", as_="h2", margin_top="0.5em"),
        _field_error("scenes"),
        rx.foreach(CreateState.scenes, _scene),
        rx.button(rx.icon("plus", size=16), "Add scene", on_click=CreateState.add_scene, variant="soft",
                  color_scheme="violet", disabled=CreateState.scenes.length() >= MAX_SCENES, id="add-scene",
                  data_testid="add-scene"),
        _submit_area(),
        spacing="3", width="100%", max_width="760px",
    )
