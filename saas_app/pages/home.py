"""`/`: the front door for signed-out visitors (what it is, an example frame, the plans, sign in)."""

from __future__ import annotations

import reflex as rx

from saas_app import routes
from saas_app.components.layout import MAIN_ID, loading_screen, skip_link
from saas_app.components.theme import BRAND, INK, MUTED, PRODUCT_NAME
from saas_app.state.home import HomeState


def _sign_in_button(label: str, test_id: str, size: str = "2") -> rx.Component:
    return rx.link(rx.button(label, color_scheme="violet", size=size), href=routes.LOGIN, data_testid=test_id)


def _header() -> rx.Component:
    return rx.el.header(
        rx.hstack(rx.heading(PRODUCT_NAME, size="5", color=BRAND, white_space="nowrap"), rx.spacer(),
                  _sign_in_button("Sign in", "home-sign-in"), align="center", width="100%"),
        padding="0.6em 1em", border_bottom="1px solid #e5e7eb", background="white",
    )


def _example_frame() -> rx.Component:
    """A frame as the videos show one: an image, the scene's caption, the topic."""
    return rx.el.figure(
        rx.box(
            rx.text("How volcanoes work", size="2", weight="bold", color="white", opacity="0.9"),
            rx.spacer(),
            rx.box(rx.text("Magma rises through cracks in the crust and erupts as lava.", size="4", weight="bold",
                           color="white"), background="rgba(17,12,40,0.72)", padding="0.6em 0.9em",
                   border_radius="6px"),
            display="flex", flex_direction="column", aspect_ratio="16 / 9", width="100%", padding="1em",
            border_radius="12px", role="img",
            aria_label="An example frame: a caption over a picture of a volcano, from a video on volcanoes",
            background="radial-gradient(circle at 70% 80%, #f97316 0 12%, transparent 13%), "
                       "linear-gradient(160deg, #1e1b4b 0%, #6d28d9 55%, #c2410c 100%)",
        ),
        rx.el.figcaption("A frame from an example video: each scene gets a picture, a caption and narration.",
                         style={"color": MUTED, "font_size": "14px", "margin_top": "0.5em"}),
        margin="0", width="100%", max_width="560px", data_testid="example-frame",
    )


def _plan(card: rx.Var) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(card["name"], size="4", as_="h3"),
                             rx.text(card["price"], size="5", weight="bold", color=BRAND, as_="div"),
                             rx.text(card["quota"], size="2"), rx.text(card["features"], size="2", color=MUTED),
                             spacing="2"),
                   class_name="home-plan", data_plan=card["id"])


def _front_page() -> rx.Component:
    return rx.fragment(
        skip_link(), _header(),
        rx.el.main(
            rx.vstack(
                rx.flex(
                    rx.vstack(
                        rx.heading("Turn a topic into a narrated video", size="8", as_="h1"),
                        rx.text("Write a few scenes; we add pictures, a voice-over and captions, and give you an "
                                "MP4 to download or share.", size="4", color=MUTED),
                        _sign_in_button("Sign in to start", "home-start", size="3"),
                        rx.text("No password: we email you a sign-in link. The Free plan costs nothing.", size="2",
                                color=MUTED),
                        spacing="4", flex="1", min_width="min(100%, 300px)",
                    ),
                    _example_frame(),
                    gap="2em", wrap="wrap", align="center", width="100%",
                ),
                rx.heading("Plans", size="6", as_="h2", margin_top="1em"),
                rx.grid(rx.foreach(HomeState.plans, _plan), spacing="4", width="100%",
                        grid_template_columns="repeat(auto-fit, minmax(min(100%, 220px), 1fr))"),
                spacing="5", width="100%",
            ),
            id=MAIN_ID, tab_index=-1, padding="2em 1.25em", max_width="1100px", margin="0 auto", outline="none",
            class_name="page-main",
        ),
    )


def home_page() -> rx.Component:
    """The front page (a page-shaped skeleton until the visitor is checked)."""
    return rx.box(rx.cond(HomeState.checked & rx.State.is_hydrated, _front_page(), loading_screen()),
                  background="#faf9ff", min_height="100vh", color=INK)
