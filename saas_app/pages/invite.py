"""`/invite?token=...`: what an invitation offers, and accepting it as the invited address."""

from __future__ import annotations

import reflex as rx

from saas_app import routes
from saas_app.components.layout import centered_card
from saas_app.components.native_form import native_form
from saas_app.components.theme import BRAND, MUTED
from saas_app.state.invite import InviteState as Inv


def _detail(label: str, value: rx.Var, test_id: str) -> rx.Component:
    return rx.hstack(rx.text(label, color=MUTED, size="2", min_width="6.5em"),
                     rx.text(value, weight="medium", class_name="wrap-anywhere", data_testid=test_id),
                     align="baseline", spacing="2", width="100%")


def _details() -> rx.Component:
    return rx.vstack(
        rx.text(rx.text.strong(Inv.inviter), " invited you to join ", rx.text.strong(Inv.workspace_name),
                " on Narrated Studio.", id="invite-summary", class_name="wrap-anywhere"),
        _detail("Workspace", Inv.workspace_name, "invite-workspace"),
        _detail("Role", Inv.role_label, "invite-role"),
        _detail("For", Inv.invited_email, "invite-address"),
        rx.cond(Inv.expires != "", _detail("Valid until", Inv.expires, "invite-expires")),
        spacing="2", width="100%",
    )


def _error() -> rx.Component:
    return rx.cond(Inv.error != "", rx.callout(Inv.error, icon="triangle-alert", color_scheme="red", role="alert",
                                               id="invite-error", tab_index=-1, data_testid="invite-error"))


def _actions() -> rx.Component:
    signed_out = rx.vstack(
        rx.text("Sign in as ", rx.text.strong(Inv.invited_email), " to accept. We'll email you a sign-in link that "
                "brings you back here.", size="2", class_name="wrap-anywhere"),
        rx.button("Sign in as ", Inv.invited_email, " to accept", on_click=Inv.sign_in, color_scheme="violet",
                  size="3", width="100%", white_space="normal", height="auto", padding_y="0.5em",
                  data_testid="invite-sign-in"),
        spacing="3", width="100%",
    )
    invitee = rx.button("Accept and open ", Inv.workspace_name, on_click=Inv.accept, loading=Inv.accepting,
                        color_scheme="violet", size="3", width="100%", white_space="normal", height="auto",
                        padding_y="0.5em", data_testid="invite-accept")
    someone_else = rx.vstack(
        rx.callout(rx.text("You're signed in as ", rx.text.strong(Inv.visitor_email), ", but this invitation is for ",
                           rx.text.strong(Inv.invited_email), ". Sign out, then open the invitation link again and "
                           "sign in as that address.", class_name="wrap-anywhere"),
                   icon="info", color_scheme="amber", data_testid="invite-other-account"),
        native_form(rx.button("Sign out", type="submit", variant="soft", color_scheme="gray", width="100%"),
                    action=routes.SESSION_SIGN_OUT, width="100%"),
        spacing="3", width="100%",
    )
    return rx.cond(Inv.visitor_email == "", signed_out, rx.cond(Inv.is_invitee, invitee, someone_else))


def invite_page() -> rx.Component:
    """The invitation page (signed in or not)."""
    return rx.el.main(centered_card(
        rx.heading("Join a workspace", size="6", as_="h1", color=BRAND),
        rx.cond(
            ~Inv.checked,
            rx.center(rx.spinner(), rx.text("Checking your invitation…", class_name="sr-only", role="status"),
                      width="100%", padding="2em"),
            rx.cond(
                Inv.workspace_name == "",
                rx.callout(Inv.problem, icon="triangle-alert", color_scheme="red", data_testid="invite-problem"),
                rx.vstack(
                    _details(),
                    rx.cond(Inv.problem != "",
                            rx.callout(Inv.problem, icon="triangle-alert", color_scheme="red",
                                       data_testid="invite-problem"),
                            _actions()),
                    _error(),
                    spacing="4", width="100%",
                ),
            ),
        ),
        rx.link("Go to Narrated Studio", href=routes.HOME, size="2", color=BRAND),
    ))
