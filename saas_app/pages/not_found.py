"""The page for an unknown address: the product's own card with a way back, not Reflex's bare text."""

from __future__ import annotations

import reflex as rx

from saas_app import routes
from saas_app.components.layout import centered_card
from saas_app.components.theme import BRAND, MUTED, PRODUCT_NAME


def not_found_page() -> rx.Component:
    """Says the page does not exist and links home (which sends signed-in users on to Create)."""
    return rx.el.main(
        centered_card(
            rx.text(PRODUCT_NAME, weight="bold", color=BRAND, size="4"),
            rx.heading("Page not found", size="6", as_="h1", id="not-found"),
            rx.text("There is nothing at this address. Check the link, or go back to the start.", color=MUTED),
            rx.link(rx.button("Go to Narrated Studio", size="3", color_scheme="violet"), href=routes.HOME,
                    data_testid="not-found-home"),
        )
    )
