"""Page chrome: the top bar with navigation and user menu, and the protected-page guard."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from saas_app import routes
from saas_app.components.native_form import native_form
from saas_app.components.theme import BRAND, INK, MUTED, PRODUCT_NAME
from saas_app.components.usage_banner import usage_banner
from saas_app.state.session import SessionState


def _post_item(label: str, form_id: str, **props) -> rx.Component:
    """A keyboard-reachable menu item that submits one of the hidden sign-out forms."""
    script = f"document.getElementById('{form_id}').requestSubmit()"
    return rx.menu.item(label, on_select=rx.call_script(script), **props)


def _hidden_post_form(form_id: str, action: str) -> rx.Component:
    """A plain HTML form POST (the cookie-changing endpoints answer 303 with Set-Cookie)."""
    return native_form(id=form_id, action=action, method="post", display="none")


def user_menu() -> rx.Component:
    """The signed-in user's email with sign-out actions."""
    return rx.fragment(
        _hidden_post_form("form-sign-out", routes.SESSION_SIGN_OUT),
        _hidden_post_form("form-sign-out-everywhere", routes.SESSION_SIGN_OUT_ALL),
        rx.menu.root(
            rx.menu.trigger(
                rx.button(
                    rx.icon("circle-user", size=18), rx.text(SessionState.user_email, size="2"),
                    variant="soft", color_scheme="violet", aria_label="User menu", id="user-menu-button",
                )
            ),
            rx.menu.content(
                rx.text(SessionState.user_email, size="2", color=MUTED, padding="0.25em 0.5em"),
                rx.menu.separator(),
                _post_item("Sign out", "form-sign-out", id="sign-out"),
                _post_item("Sign out everywhere", "form-sign-out-everywhere", id="sign-out-everywhere"),
                align="end",
            ),
        ),
    )


def top_bar() -> rx.Component:
    """Product name, navigation and the user menu."""
    links = [
        rx.link(label, href=path, color=INK, weight="medium", underline="hover", padding_x="0.5em")
        for label, path in routes.NAV_ITEMS
    ]
    return rx.el.header(
        rx.hstack(
            rx.link(rx.heading(PRODUCT_NAME, size="5", color=BRAND), href=routes.CREATE, underline="none"),
            rx.el.nav(rx.hstack(*links, spacing="2", wrap="wrap"), aria_label="Main"),
            rx.spacer(),
            user_menu(),
            align="center", width="100%", spacing="4", wrap="wrap",
        ),
        padding="0.75em 1.25em", border_bottom="1px solid #e5e7eb", background="white",
        position="sticky", top="0", z_index="10",
    )


def loading_screen() -> rx.Component:
    """What a protected page shows until the session is verified (no protected content)."""
    return rx.center(rx.spinner(size="3"), rx.text("Loading…", color=MUTED, margin_left="0.5em"),
                     height="60vh", aria_busy="true")


def protected(content: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
    """Wrap a page so it renders only for a verified, freshly hydrated session."""

    def page() -> rx.Component:
        return rx.box(
            rx.cond(
                SessionState.signed_in & rx.State.is_hydrated,
                rx.fragment(top_bar(), usage_banner(),
                            rx.el.main(content(), padding="1.5em", max_width="1100px", margin="0 auto")),
                loading_screen(),
            ),
            background="#faf9ff", min_height="100vh", color=INK,
        )

    page.__name__ = f"{content.__name__}_protected"
    return page


def centered_card(*children: rx.Component, **props) -> rx.Component:
    """A card centered on the page (sign-in screens)."""
    return rx.center(
        rx.card(rx.vstack(*children, spacing="4", width="100%"), width="100%", max_width="440px",
                padding="2em", **props),
        min_height="100vh", padding="1em", background="linear-gradient(135deg,#ede9fe,#faf9ff)",
    )
