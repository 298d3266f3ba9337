"""The account page's danger zone: "Delete this workspace" (owners) and "Delete my account" (everyone),
two separate cards, each with a typed-email confirmation, a countdown and a cancel button."""

from __future__ import annotations

import reflex as rx

from saas_app import routes
from saas_app.components.dialog_focus import dialog_focus
from saas_app.components.theme import DANGER, MUTED
from saas_app.state.account_data import AccountDataState as Data
from saas_app.state.account_person import AccountPersonState as Me


def _note(text: rx.Var, id_: str) -> rx.Component:
    return rx.cond(text != "", rx.text(text, size="2", role="status", id=id_, tab_index=-1, data_testid=id_))


def _confirm_dialog(*, title: str, description: rx.Component, value: rx.Var, on_change: rx.EventHandler,
                    message: rx.Var, message_id: str, keep: str, keep_click: rx.EventHandler, confirm: str,
                    confirm_click: rx.EventHandler, enabled: rx.Var, input_id: str, button_id: str,
                    open_: rx.Var, trigger_id: str) -> rx.Component:
    return rx.alert_dialog.root(rx.alert_dialog.content(
        rx.alert_dialog.title(title),
        rx.alert_dialog.description(description),
        rx.el.label("Your email", html_for=input_id, font_weight="600"),
        rx.input(id=input_id, value=value, on_change=on_change, placeholder=Data.user_email, width="100%",
                 data_testid=input_id, aria_describedby=f"{input_id}-hint"),
        rx.text(rx.cond(enabled, "The address matches.", rx.fragment("Type ", rx.text.strong(Data.user_email),
                                                                     " exactly to confirm.")),
                size="2", color=MUTED, id=f"{input_id}-hint", class_name="wrap-anywhere",
                data_testid=f"{input_id}-hint"),
        _note(message, message_id),
        rx.hstack(
            rx.alert_dialog.cancel(rx.button(keep, variant="soft", color_scheme="gray", on_click=keep_click)),
            rx.button(confirm, color_scheme="red", on_click=confirm_click, disabled=~enabled, id=button_id,
                      data_testid=button_id),
            spacing="3", justify="end", margin_top="1em",
        ),
        **dialog_focus(input_id, trigger_id),  # the email field first; back to the button when it closes
    ), open=open_)


def _workspace_dialog() -> rx.Component:
    return _confirm_dialog(
        title="Delete this workspace?",
        description=rx.fragment(
            "Every video, usage record, key and setting of this workspace will be deleted for good in ",
            rx.text.strong(Data.grace_period, id="grace-period"),
            ". Its members keep their own accounts. Until then you can cancel from this page or from the email "
            "we send. Type your email to confirm."),
        value=Data.confirm_text, on_change=Data.set_confirm_text, message=Data.delete_message,
        message_id="delete-dialog-message", keep="Keep the workspace", keep_click=Data.close_delete,
        confirm="Delete the workspace", confirm_click=Data.confirm_delete, enabled=Data.can_confirm_delete,
        input_id="confirm-email", button_id="confirm-delete-workspace", open_=Data.delete_dialog,
        trigger_id="delete-workspace")


def _my_dialog() -> rx.Component:
    return _confirm_dialog(
        title="Delete your account?",
        description=rx.fragment(
            "Your sign-in, your place in every workspace, and the workspaces where you are the only member will "
            "be deleted for good in ", rx.text.strong(Data.grace_period),
            ". Videos you made in shared workspaces stay with them. Type your email to confirm."),
        value=Me.confirm_me_text, on_change=Me.set_confirm_me_text, message=Me.delete_me_message,
        message_id="delete-me-dialog-message", keep="Keep my account", keep_click=Me.close_delete_me,
        confirm="Delete my account", confirm_click=Me.confirm_delete_me, enabled=Me.can_confirm_delete_me,
        input_id="confirm-me-email", button_id="confirm-delete-me", open_=Me.delete_me_dialog,
        trigger_id="delete-me")


def _card(title: str, body: rx.Component, note: rx.Component, id_: str) -> rx.Component:
    return rx.box(rx.vstack(rx.heading(title, size="4", as_="h3"), body, note, spacing="2", width="100%"),
                  border=f"1px solid {DANGER}", border_radius="8px", padding="1em", background="white",
                  width="100%", id=id_)


def _workspace_card() -> rx.Component:
    return _card("Delete this workspace", rx.cond(
        Data.deletion_at != "",
        rx.vstack(
            rx.text("This workspace will be deleted on ", rx.text.strong(Data.deletion_at), " (",
                    rx.moment(Data.deletion_iso, from_now=True, interval=30000), ").", id="deletion-countdown"),
            rx.button("Cancel the workspace's deletion", on_click=Data.cancel_delete, color_scheme="violet",
                      id="cancel-deletion", data_testid="cancel-deletion"),
            spacing="2"),
        rx.vstack(
            rx.text("Delete this workspace and everything in it, for every member. Members keep their own "
                    "accounts. You have ", Data.grace_period, " to change your mind.", size="2"),
            rx.button("Delete workspace…", color_scheme="red", variant="soft", on_click=Data.open_delete,
                      id="delete-workspace", data_testid="delete-workspace"),
            spacing="2"),
    ), _note(Data.delete_message, "delete-message"), "delete-workspace-card")


def _blocked() -> rx.Component:
    return rx.vstack(
        rx.text("You are the only owner of these workspaces, and other people use them. Before you can delete "
                "your account, make another member an owner, or delete the workspace:", size="2"),
        rx.el.ul(rx.foreach(Me.blocking, lambda w: rx.el.li(rx.text.strong(w["name"]), " (", w["members"], ")")),
                 padding_left="1.2em", margin="0"),
        rx.link("Hand over on the Team page", href=routes.TEAM, style={"color": "#5b21b6", "font_weight": "600"},
                id="team-link"),
        spacing="2", id="delete-me-blocked", data_testid="delete-me-blocked")


def _my_card() -> rx.Component:
    return _card("Delete my account", rx.cond(
        Me.my_deletion_at != "",
        rx.vstack(
            rx.text("Your account will be deleted on ", rx.text.strong(Me.my_deletion_at), " (",
                    rx.moment(Me.my_deletion_iso, from_now=True, interval=30000), ").", id="my-deletion-countdown"),
            rx.button("Cancel my account's deletion", on_click=Me.cancel_delete_me, color_scheme="violet",
                      id="cancel-my-deletion", data_testid="cancel-my-deletion"),
            spacing="2"),
        rx.cond(Me.delete_me_blocked, _blocked(), rx.vstack(
            rx.text("Delete your own account: your sign-in and your place in every workspace. Workspaces where "
                    "you are the only member go with it. You have ", Data.grace_period, " to change your mind.",
                    size="2"),
            rx.button("Delete my account…", color_scheme="red", variant="soft", on_click=Me.open_delete_me,
                      id="delete-me", data_testid="delete-me"),
            spacing="2")),
    ), _note(Me.delete_me_message, "delete-me-message"), "delete-me-card")


def danger_zone() -> rx.Component:
    """Last on the page: the workspace's deletion (owners only) and the person's own, kept apart."""
    return rx.fragment(rx.card(
        rx.vstack(
            rx.heading("Danger zone", size="5", color=DANGER, as_="h2"),
            rx.text("Deleting the workspace and deleting your account are different things.", size="2",
                    color=MUTED),
            rx.cond(Data.can_delete_workspace, _workspace_card()),
            _my_card(),
            spacing="3", width="100%",
        ),
        border_left=f"4px solid {DANGER}", background="#fef2f2", width="100%", id="danger-zone",
    ), rx.cond(Data.can_delete_workspace, _workspace_dialog()), _my_dialog())
