"""The workspace switcher of the top bar: the current workspace and the user's role there, a menu of
the others (name, role, plan) and "Create workspace" with a small dialog. A Radix dropdown menu:
reachable and operable by keyboard; on a phone it shrinks to the name, cut with an ellipsis."""

from __future__ import annotations

import reflex as rx

from saas_app.components.dialog_focus import dialog_focus, menu_keeps_dialog_focus
from saas_app.components.theme import MUTED
from saas_app.state.workspaces import WorkspacesState as Ws


def _row(ws: rx.Var) -> rx.Component:
    current = ws["current"] == "yes"
    return rx.menu.item(
        rx.hstack(
            rx.icon("check", size=14, aria_hidden="true", opacity=rx.cond(current, "1", "0")),
            rx.vstack(rx.text(ws["name"], weight=rx.cond(current, "bold", "regular"), class_name="ws-name"),
                      rx.text(ws["role"], " · ", ws["plan"], size="1", color=MUTED), spacing="0", min_width="0"),
            align="center", spacing="2", min_width="0",
        ),
        on_select=Ws.switch(ws["id"]),
        height="auto", padding_y="0.35em", data_testid="workspace-option", data_current=ws["current"],
    )


def _create_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Create a workspace"),
            rx.dialog.description("A new workspace on the Free plan, with you as its owner. It opens at once.",
                                  size="2", color=MUTED),
            rx.form(
                rx.vstack(
                    rx.el.label("Workspace name", html_for="new-workspace-name", font_weight="600"),
                    rx.input(id="new-workspace-name", name="name", value=Ws.new_name, on_change=Ws.set_new_name,
                             max_length=200, width="100%", auto_focus=True, data_testid="new-workspace-name",
                             aria_describedby=rx.cond(Ws.create_error != "", "create-workspace-error", "")),
                    rx.cond(Ws.create_error != "",
                            rx.text(Ws.create_error, color="#b91c1c", size="2", role="alert", tab_index=-1,
                                    id="create-workspace-error", data_testid="create-workspace-error")),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", type="button", variant="soft", color_scheme="gray")),
                        rx.button("Create workspace", type="submit", color_scheme="violet", loading=Ws.creating,
                                  data_testid="create-workspace-submit"),
                        spacing="3", justify="end", width="100%",
                    ),
                    spacing="3", width="100%",
                ),
                on_submit=Ws.create,
            ),
            max_width="420px",
            **dialog_focus("new-workspace-name", "workspace-switcher"),
        ),
        open=Ws.create_open,
        on_open_change=Ws.set_create_open,
    )


def workspace_switcher() -> rx.Component:
    """The switcher button, its menu and the create dialog."""
    return rx.fragment(
        rx.menu.root(
            rx.menu.trigger(
                rx.button(
                    rx.icon("building-2", size=16, aria_hidden="true"),
                    rx.text.span("Workspace: ", class_name="sr-only"),
                    rx.text.span(Ws.current_name, class_name="ws-current", data_testid="workspace-current"),
                    rx.badge(Ws.current_role, color_scheme="gray", variant="surface", class_name="desktop-only",
                             data_testid="workspace-role"),
                    rx.icon("chevrons-up-down", size=14, aria_hidden="true", class_name="desktop-only"),
                    variant="ghost", color_scheme="gray", id="workspace-switcher", data_testid="workspace-switcher",
                    max_width="100%", min_width="0",
                )
            ),
            rx.menu.content(
                rx.text("Your workspaces", size="1", color=MUTED, padding="0.25em 0.5em"),
                rx.foreach(Ws.workspaces, _row),
                rx.menu.separator(),
                rx.menu.item(rx.icon("plus", size=14, aria_hidden="true"), "Create workspace",
                             on_select=Ws.open_create, data_testid="workspace-create"),
                align="start", max_width="min(320px, 92vw)", **menu_keeps_dialog_focus(),
            ),
        ),
        rx.cond(Ws.switch_error != "",
                rx.text(Ws.switch_error, size="1", color="#b91c1c", role="alert", data_testid="workspace-error")),
        _create_dialog(),
    )
