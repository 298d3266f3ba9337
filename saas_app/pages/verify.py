"""`/auth/verify`: confirm before signing in, so mail scanners cannot burn the link."""

from __future__ import annotations

import reflex as rx

from saas_app import routes
from saas_app.components.layout import centered_card
from saas_app.components.native_form import native_form
from saas_app.components.theme import BRAND, MUTED, PRODUCT_NAME
from saas_app.state.login import LINK_EXPIRED, LINK_USED, VerifyState


def _confirm() -> rx.Component:
    return rx.vstack(
        rx.heading("Sign in as ", rx.text.span(VerifyState.link_email, id="verify-email"), "?", size="6", as_="h1"),
        rx.cond(VerifyState.deleted_notice != "",
                rx.callout(VerifyState.deleted_notice, icon="info", color_scheme="amber", id="deleted-notice",
                           data_testid="deleted-notice")),
        rx.text("Press the button to finish signing in on this device.", color=MUTED),
        native_form(
            rx.el.input(type="hidden", name="token", value=VerifyState.token),
            rx.button("Sign in", type="submit", size="3", width="100%", color_scheme="violet", id="confirm-sign-in",
                      data_testid="confirm-sign-in"),
            action=routes.SESSION_SIGN_IN, method="post", width="100%",
        ),
        spacing="3", width="100%",
    )


def _invalid() -> rx.Component:
    used = VerifyState.link_state == LINK_USED
    return rx.vstack(
        rx.heading(rx.cond(used, "This link was already used",
                           rx.cond(VerifyState.link_state == LINK_EXPIRED, "This link has expired",
                                   "This link doesn't work")),
                   size="6", as_="h1", id="link-problem", data_state=VerifyState.link_state),
        rx.text(rx.cond(used, "Each sign-in link works once (a newer link also replaces it). ",
                        "Sign-in links work for a short time only. "),
                "Ask for a new one: we'll send it to the same address.", color=MUTED),
        rx.link(rx.button("Send me a new link", size="3", color_scheme="violet"), href=VerifyState.new_link_path,
                id="new-link", data_testid="new-link"),
        spacing="3", width="100%",
    )


def verify_page() -> rx.Component:
    """The confirm page (or the expired-link page)."""
    return rx.el.main(
        centered_card(
            rx.text(PRODUCT_NAME, weight="bold", color=BRAND, size="4"),
            rx.cond(
                VerifyState.checked,
                rx.cond(VerifyState.link_email != "", _confirm(), _invalid()),
                rx.center(rx.spinner(), width="100%"),
            ),
        )
    )
