"""Page chrome: the top bar with navigation and user menu, the skip link, and the protected-page guard."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from saas_app import routes
from saas_app.components.native_form import native_form
from saas_app.components.theme import BRAND, INK, MUTED, PRODUCT_NAME
from saas_app.components.usage_banner import usage_banner
from saas_app.components.workspace_switcher import workspace_switcher
from saas_app.state.session import SessionState

MAIN_ID = "main-content"


def _post_item(label: str, form_id: str, **props) -> rx.Component:
    """A keyboard-reachable menu item that submits one of the hidden sign-out forms."""
    script = f"document.getElementById('{form_id}').requestSubmit()"
    return rx.menu.item(label, on_select=rx.call_script(script), **props)


def _hidden_post_form(form_id: str, action: str) -> rx.Component:
    """A plain HTML form POST (the cookie-changing endpoints answer 303 with Set-Cookie)."""
    return native_form(id=form_id, action=action, method="post", display="none")


def user_menu() -> rx.Component:
    """The signed-in user's email with sign-out actions (its accessible name is the visible email)."""
    return rx.fragment(
        _hidden_post_form("form-sign-out", routes.SESSION_SIGN_OUT),
        _hidden_post_form("form-sign-out-everywhere", routes.SESSION_SIGN_OUT_ALL),
        rx.menu.root(
            rx.menu.trigger(
                rx.button(
                    rx.icon("circle-user", size=18, aria_hidden="true"),
                    rx.text(SessionState.user_email, size="2", class_name="user-email"),
                    variant="soft", color_scheme="violet", id="user-menu-button", data_testid="user-menu",
                )
            ),
            rx.menu.content(
                rx.text(SessionState.user_email, size="2", color=MUTED, padding="0.25em 0.5em"),
                rx.menu.separator(),
                _post_item("Sign out", "form-sign-out", id="sign-out", data_testid="sign-out"),
                _post_item("Sign out everywhere", "form-sign-out-everywhere", id="sign-out-everywhere",
                           data_testid="sign-out-everywhere"),
                align="end",
            ),
        ),
    )


def _is_current(path: str) -> rx.Var:
    return rx.State.router.page.path == path


def _for_role(path: str, item: rx.Component) -> rx.Component:
    """Billing is shown only to those who may manage it (the others' /billing says whom to ask)."""
    return rx.cond(SessionState.can_manage_billing, item) if path == routes.BILLING else item


def _nav_link(label: str, path: str) -> rx.Component:
    return _for_role(path, rx.link(label, href=path, color=INK, weight="medium", underline="none", padding_x="0.5em",
                   class_name="nav-link", aria_current=rx.cond(_is_current(path), "page", "false"),
                   data_testid=f"nav-{label.lower()}"))


def _phone_menu() -> rx.Component:
    """The navigation in a menu button (phones)."""
    items = [_for_role(path, rx.menu.item(rx.link(label, href=path, color=INK, underline="none", width="100%",
                                                  aria_current=rx.cond(_is_current(path), "page", "false"),
                                                  weight=rx.cond(_is_current(path), "bold", "regular"))))
             for label, path in routes.NAV_ITEMS]
    return rx.box(
        rx.menu.root(
            rx.menu.trigger(rx.button(rx.icon("menu", size=18, aria_hidden="true"),
                                      rx.text.span("Menu", class_name="sr-only"), variant="soft",
                                      color_scheme="gray", data_testid="nav-menu")),
            rx.menu.content(*items, align="start"),
        ),
        class_name="phone-only",
    )


def top_bar() -> rx.Component:
    """Product name, navigation and the user menu, in one row at every width."""
    return rx.el.header(
        rx.hstack(
            _phone_menu(),
            rx.link(rx.heading(PRODUCT_NAME, size="5", color=BRAND, white_space="nowrap"), href=routes.CREATE,
                    underline="none", class_name="desktop-only", data_testid="home-link"),
            rx.el.nav(rx.hstack(*[_nav_link(label, path) for label, path in routes.NAV_ITEMS], spacing="2"),
                      aria_label="Main", class_name="desktop-only"),
            rx.spacer(),
            rx.box(workspace_switcher(), min_width="0"),
            user_menu(),
            align="center", width="100%", spacing="3",
        ),
        padding="0.6em 1em", border_bottom="1px solid #e5e7eb", background="white",
        position="sticky", top="0", z_index="10",
    )


def skip_link() -> rx.Component:
    """The first focusable element: jumps past the header to the page's main content."""
    focus = f"document.getElementById('{MAIN_ID}')?.focus()"
    return rx.el.a("Skip to main content", href=f"#{MAIN_ID}", class_name="skip-link", data_testid="skip-link",
                   on_click=rx.call_script(focus))


def loading_screen() -> rx.Component:
    """What a protected page shows until the session is verified: the page's shape, no protected content."""
    bar = rx.box(height="0.9em", width="4.5em", background="#ede9fe", border_radius="4px")
    block = lambda height: rx.box(height=height, width="100%", background="#f1eefc",  # noqa: E731
                                  border_radius="8px")
    return rx.box(
        rx.el.header(
            rx.hstack(rx.heading(PRODUCT_NAME, size="5", color=BRAND, white_space="nowrap"), rx.spacer(), bar,
                      align="center", width="100%"),
            padding="0.6em 1em", border_bottom="1px solid #e5e7eb", background="white",
        ),
        rx.vstack(rx.box(height="2em", width="40%", background="#ede9fe", border_radius="6px"),
                  block("8em"), block("14em"), spacing="4", width="100%", max_width="1100px", margin="0 auto",
                  padding="1.5em"),
        rx.text("Loading…", class_name="sr-only", role="status"),
        aria_busy="true", data_testid="page-skeleton",
    )


def _deletion_notice() -> rx.Component:
    return rx.cond(SessionState.deletion_notice != "", rx.box(
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle-alert")),
            rx.callout.text(SessionState.deletion_notice, " ", rx.link("Go to Account", href=routes.ACCOUNT,
                                                                        weight="bold")),
            color_scheme="red", role="alert", data_testid="deletion-notice"),
        padding="0.75em 1em 0", max_width="1100px", margin="0 auto"))


def protected(content: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
    """Wrap a page so it renders only for a verified, freshly hydrated session."""

    def page() -> rx.Component:
        return rx.box(
            rx.cond(
                SessionState.signed_in & rx.State.is_hydrated,
                rx.fragment(skip_link(), top_bar(), usage_banner(), _deletion_notice(),
                            rx.el.main(content(), id=MAIN_ID, tab_index=-1, padding="1.5em", max_width="1100px",
                                       margin="0 auto", class_name="page-main", outline="none")),
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
