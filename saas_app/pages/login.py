"""`/login`: request a magic link, then wait for it or type the 6-digit code."""

from __future__ import annotations

import reflex as rx

from saas_app import routes
from saas_app.components.layout import centered_card
from saas_app.components.native_form import native_form
from saas_app.components.theme import BRAND, MUTED, PRODUCT_NAME
from saas_app.state.login import LoginState


def _error(message, id_: str) -> rx.Component:
    return rx.cond(message != "", rx.text(message, color="#b91c1c", size="2", id=id_, role="alert", tab_index=-1,
                                          data_testid=id_))


def _email_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.el.label("Email address", html_for="email", font_weight="600"),
            rx.input(
                id="email", name="email", type="email", placeholder="you@example.com", value=LoginState.email,
                on_change=LoginState.set_email, auto_complete="email", required=True, size="3", width="100%",
                data_testid="email",
                aria_invalid=rx.cond(LoginState.email_error != "", "true", "false"),
                aria_describedby="email-error",
            ),
            _error(LoginState.email_error, "email-error"),
            rx.button(
                rx.cond(LoginState.sending, "Sending…", "Email me a sign-in link"),
                type="submit", loading=LoginState.sending, size="3", width="100%", color_scheme="violet",
                data_testid="request-link",
            ),
            spacing="2", width="100%",
        ),
        on_submit=LoginState.request_link, width="100%",
    )


def _code_form() -> rx.Component:
    return native_form(
        rx.el.input(type="hidden", name="email", value=LoginState.email),
        rx.el.input(type="hidden", name="next", value=LoginState.next_path),
        rx.vstack(
            rx.el.label("Or enter the 6-digit code", html_for="code", font_weight="600"),
            rx.hstack(
                rx.input(id="code", name="code", placeholder="123456", input_mode="numeric", pattern="[0-9]{6}",
                         max_length=6, auto_complete="one-time-code", required=True, size="3", data_testid="code",
                         aria_describedby="code-error", width="100%"),
                rx.button("Sign in", type="submit", size="3", color_scheme="violet", id="code-submit",
                          data_testid="code-submit"),
                width="100%",
            ),
            _error(LoginState.code_error, "code-error"),
            spacing="2", width="100%",
        ),
        action=routes.SESSION_SIGN_IN, method="post", width="100%",
    )


def _sent_step() -> rx.Component:
    return rx.vstack(
        rx.heading("Check your email", size="6", as_="h1"),
        rx.text("We sent a sign-in link to ", rx.text.strong(LoginState.email, id="sent-to"),
                ". It works once and expires soon.", color=MUTED),
        _code_form(),
        rx.divider(),
        _error(LoginState.email_error, "resend-error"),
        rx.hstack(
            rx.button(
                rx.cond(LoginState.cooldown > 0, f"Resend in {LoginState.cooldown}s", "Resend link"),
                on_click=LoginState.request_link, disabled=(LoginState.cooldown > 0) | LoginState.sending,
                variant="soft", color_scheme="violet", id="resend", data_testid="resend",
            ),
            rx.button("Use another email", on_click=LoginState.use_another_email, variant="ghost",
                      color_scheme="gray"),
            spacing="3", wrap="wrap",
        ),
        spacing="4", width="100%",
    )


def login_page() -> rx.Component:
    """The sign-in page."""
    return rx.el.main(
        centered_card(
            rx.text(PRODUCT_NAME, weight="bold", color=BRAND, size="4"),
            rx.cond(LoginState.notice != "", rx.callout(LoginState.notice, icon="info", color_scheme="green",
                                                          role="status")),
            rx.cond(
                LoginState.sent,
                _sent_step(),
                rx.vstack(
                    rx.heading("Sign in", size="6", as_="h1"),
                    rx.text("No password needed: we'll email you a link.", color=MUTED),
                    _email_form(),
                    spacing="3", width="100%",
                ),
            ),
        )
    )
