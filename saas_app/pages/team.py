"""`/team`: the workspace's members and roles, invitations, seats. Owners and admins get the forms and
buttons; members see the list only."""

from __future__ import annotations

import reflex as rx

from saas_app import routes
from saas_app.components.dialog_focus import dialog_focus
from saas_app.components.theme import BRAND, MUTED
from saas_app.state.session import SessionState
from saas_app.state.team import INVITATION_EXPIRED
from saas_app.state.team import TeamState as Team
from saas_app.state.workspaces import WorkspacesState

_EMAIL_WIDTH = "13em"  # on a desktop the table scrolls sideways rather than break addresses letter by letter


def _section(title: str, *children: rx.Component, **props) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(title, size="5", as_="h2"), *children, spacing="3", width="100%"),
                   width="100%", **props)


def _header(*names: str, actions: bool = True) -> rx.Component:
    cells = [rx.table.column_header_cell(n) for n in names]
    if actions:
        cells.append(rx.table.column_header_cell(rx.text.span("Actions", class_name="sr-only")))
    return rx.table.header(rx.table.row(*cells))


def _option(role: rx.Var) -> rx.Component:
    return rx.el.option(role["label"], value=role["value"])


def _role_cell(row: rx.Var) -> rx.Component:
    select = rx.el.select(
        rx.foreach(Team.giveable, _option),
        value=row["role"], on_change=lambda value: Team.ask_role(row["id"], value),  # confirmed first
        class_name="native-select", aria_label="Role of " + row["email"], data_testid="member-role-select",
    )
    return rx.cond(row["editable"] == "yes", select, rx.text(row["role_label"], data_testid="member-role"))


def _member_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text.span(row["email"], class_name="wrap-anywhere"),
                      rx.cond(row["you"] == "yes", rx.badge("You", margin_left="0.5em", color_scheme="violet")),
                      min_width=_EMAIL_WIDTH),
        rx.table.cell(_role_cell(row), data_label="Role"),
        rx.table.cell(row["last_active"], white_space="nowrap", data_label="Last active"),
        rx.table.cell(row["joined"], white_space="nowrap", data_label="Joined"),
        rx.table.cell(rx.cond(
            row["removable"] == "yes",
            rx.button("Remove", size="1", variant="soft", color_scheme="red", data_testid="member-remove",
                      aria_label="Remove " + row["email"], on_click=Team.ask("remove", row["id"], row["email"])),
        )),
        data_testid="member-row", data_email=row["email"],
    )


def _pager(which: str, page: rx.Var, pages: rx.Var) -> rx.Component:
    return rx.cond(pages > 1, rx.hstack(
        rx.button("Previous", on_click=Team.go_to(which, page - 1), disabled=page == 0, variant="soft",
                  color_scheme="gray", data_testid=f"{which}-previous"),
        rx.text("Page ", page + 1, " of ", pages, size="2", color=MUTED),
        rx.button("Next", on_click=Team.go_to(which, page + 1), disabled=page + 1 >= pages, variant="soft",
                  color_scheme="gray", data_testid=f"{which}-next"),
        align="center", spacing="3"))


def _members() -> rx.Component:
    return _section(
        "Members",
        rx.cond(SessionState.can_manage_members,
                rx.text(Team.seats_line, size="2", color=MUTED, data_testid="seats-line")),
        rx.box(rx.table.root(_header("Email", "Role", "Last active", "Joined"),
                             rx.table.body(rx.foreach(Team.members, _member_row)), width="100%",
                             class_name="stack-on-phone"),
               class_name="table-scroll", width="100%"),
        _pager("members", Team.member_page, Team.member_pages),
        rx.hstack(rx.spacer(),
                  rx.cond(Team.leave_blocked != "", rx.text(Team.leave_blocked, size="2", color=MUTED,
                                                            id="leave-blocked", data_testid="leave-blocked")),
                  rx.button("Leave workspace", variant="soft", color_scheme="gray", disabled=Team.leave_blocked != "",
                            aria_describedby=rx.cond(Team.leave_blocked != "", "leave-blocked", ""),
                            on_click=Team.ask("leave", "", ""), data_testid="leave-workspace"),
                  width="100%", align="center", spacing="3", wrap="wrap"),
    )


def _invite_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.hstack(
                rx.vstack(rx.el.label("Email address", html_for="invite-email", font_weight="600"),
                          rx.input(id="invite-email", name="email", type="email", value=Team.invite_email,
                                   on_change=Team.set_invite_email, placeholder="name@example.com", width="100%",
                                   data_testid="invite-email", auto_complete="off",
                                   aria_invalid=rx.cond(Team.invite_error != "", "true", "false"),
                                   aria_describedby=rx.cond(Team.invite_error != "", "invite-error", "")),
                          spacing="1", flex="1 1 16em", min_width="0"),
                rx.vstack(rx.el.label("Role", html_for="invite-role", font_weight="600"),
                          rx.el.select(rx.foreach(Team.giveable, _option),
                                       id="invite-role", name="role", value=Team.invite_role,
                                       on_change=Team.set_invite_role, class_name="native-select",
                                       data_testid="invite-role"),
                          spacing="1"),
                rx.button("Send invitation", type="submit", loading=Team.inviting, color_scheme="violet",
                          data_testid="invite-submit"),
                align="end", spacing="3", wrap="wrap", width="100%",
            ),
            rx.cond(Team.invite_error != "", rx.callout.root(
                rx.callout.icon(rx.icon("triangle-alert")),
                rx.callout.text(Team.invite_error, " ", rx.cond(
                    Team.invite_upgrade,
                    rx.cond(SessionState.can_manage_billing,
                            rx.link("See plans and upgrade", href=routes.BILLING, weight="bold", color=BRAND,
                                    data_testid="invite-upgrade"),
                            rx.text.span("Ask an owner to upgrade the plan.")))),
                color_scheme="red", role="alert", id="invite-error", tab_index=-1, data_testid="invite-error",
                width="100%")),
            spacing="3", width="100%",
        ),
        on_submit=Team.invite, width="100%", no_validate=True,  # our message, not the browser's bubble
    )


def _invite_row(row: rx.Var) -> rx.Component:
    expired = row["status"] == INVITATION_EXPIRED
    return rx.table.row(
        rx.table.cell(rx.text.span(row["email"], class_name="wrap-anywhere"), min_width=_EMAIL_WIDTH),
        rx.table.cell(row["role_label"], data_label="Role"),
        rx.table.cell(row["invited_by"], class_name="wrap-anywhere", min_width=_EMAIL_WIDTH, data_label="Invited by"),
        rx.table.cell(rx.cond(expired, rx.badge("Expired", color_scheme="red"),
                              rx.text("Until ", row["expires"], white_space="nowrap")), data_label="Expires"),
        rx.table.cell(rx.hstack(
            rx.button("Resend", size="1", variant="soft", on_click=Team.resend(row["id"]),
                      aria_label="Resend the invitation to " + row["email"], data_testid="invite-resend"),
            rx.button("Revoke", size="1", variant="soft", color_scheme="red",
                      aria_label="Revoke the invitation to " + row["email"], data_testid="invite-revoke",
                      on_click=Team.ask("revoke", row["id"], row["email"])),
            spacing="2")),
        data_testid="invite-row", data_email=row["email"], data_status=row["status"],
    )


def _invitations() -> rx.Component:
    return _section(
        "Invitations",
        rx.text("Invite someone by email. The link in the email works once, for 7 days, and only for that "
                "address.", size="2", color=MUTED),
        _invite_form(),
        rx.heading("Pending invitations", size="3", as_="h3"),
        rx.cond(Team.invite_total == 0,
                rx.text("No pending invitations.", color=MUTED, size="2", data_testid="invites-empty"),
                rx.box(rx.table.root(_header("Email", "Role", "Invited by", "Expires"),
                                     rx.table.body(rx.foreach(Team.invites, _invite_row)), width="100%",
                                     class_name="stack-on-phone"),
                       class_name="table-scroll", width="100%")),
        _pager("invites", Team.invite_page, Team.invite_pages),
    )


_CONFIRM = {
    "remove": ("Remove this member?", "They lose access to the workspace at once: their sessions and API keys "
                                      "here end. The videos they made stay with the workspace.", "Remove"),
    "revoke": ("Revoke this invitation?", "The link in the email stops working and its seat is free again.",
               "Revoke"),
    "leave": ("Leave this workspace?", "You lose access to its videos at once. To come back, an owner or admin "
                                       "must invite you again.", "Leave workspace"),
}


def _confirm_dialog() -> rx.Component:
    def pick(index: int) -> rx.Var:
        return rx.match(Team.confirm_kind, *[(k, v[index]) for k, v in _CONFIRM.items()], "")

    role = Team.confirm_kind == "role"  # its words come from the state (the role and what it may do)
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(rx.cond(role, Team.confirm_title, pick(0)), class_name="wrap-anywhere"),
            rx.alert_dialog.description(rx.cond(
                role, Team.confirm_body,
                rx.fragment(rx.cond(Team.confirm_email != "",
                                    rx.text.strong(Team.confirm_email, class_name="wrap-anywhere")), " ", pick(1)))),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray",
                                                 data_testid="confirm-cancel")),
                rx.alert_dialog.action(rx.button(rx.cond(role, Team.confirm_button, pick(2)),
                                                 color_scheme=rx.cond(role, "violet", "red"), on_click=Team.confirm,
                                                 data_testid="confirm-team-action")),
                spacing="3", justify="end", margin_top="1em",
            ),
            **dialog_focus(),  # Cancel first; back to the Remove button or role select when it closes
        ),
        open=Team.confirm_kind != "", on_open_change=Team.set_confirm_open,
    )


def _message(icon: str, scheme: str) -> rx.Component:
    # Darker text than Radix's green callout (#1d8255 on its tint is 4.1:1; this is 6:1 or more).
    ink = "#166534" if scheme == "green" else "#991b1b"
    return rx.callout.root(rx.callout.icon(rx.icon(icon)), rx.callout.text(Team.message, color=ink),
                           color_scheme=scheme, role="status", id="team-message",
                           tab_index=-1, data_testid="team-message", width="100%")


def team_page() -> rx.Component:
    """The team page."""
    return rx.vstack(
        rx.heading("Team", size="7", as_="h1"),
        rx.text("Who can work in ", rx.text.strong(WorkspacesState.current_name), ", and what each role may do: "
                "owners manage billing, members and the workspace; admins manage members and API keys; "
                "members create and watch videos.", color=MUTED, size="2"),
        rx.cond(Team.message != "", rx.cond(Team.message_ok, _message("check", "green"),
                                            _message("triangle-alert", "red"))),
        rx.cond(~Team.loaded, rx.center(rx.spinner(), width="100%", padding="3em", aria_label="Loading"),
                rx.vstack(_members(), rx.cond(SessionState.can_manage_members, _invitations()),
                          spacing="4", width="100%")),
        _confirm_dialog(),
        spacing="4", width="100%",
    )
