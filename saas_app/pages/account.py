"""`/account`: data and privacy, API keys, backups, sessions and security, recent activity, danger zone."""

from __future__ import annotations

import reflex as rx

from saas_app import routes
from saas_app.components.file_link import file_download
from saas_app.components.native_form import native_form
from saas_app.components.theme import MUTED
from saas_app.pages.account_danger import danger_zone
from saas_app.state.account_data import AccountDataState as Data
from saas_app.state.account_keys import AccountKeysState as Keys
from saas_app.state.account_security import AccountSecurityState as Sec
from saas_app.state.formatting import EXPORT_PENDING


def _section(title: str, *children: rx.Component, **props) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(title, size="5", as_="h2"), *children, spacing="3", width="100%"),
                   width="100%", **props)


def _note(text: rx.Var, id_: str) -> rx.Component:
    return rx.cond(text != "", rx.text(text, size="2", role="status", id=id_, tab_index=-1, data_testid=id_))


def _download_link(label: str, url: rx.Var) -> rx.Component:
    """A link the browser downloads (not a page of the app): the API names the file."""
    return file_download(label, href=url, class_name="export-download", data_testid="export-download",
                         style={"color": "#5b21b6", "font_weight": "600"})


def _export_row(row: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.text(row["created"], size="2"), rx.badge(row["status"]),
        rx.cond(row["url"] != "",
                _download_link("Download ZIP", row["url"]),
                rx.cond(row["status"] == EXPORT_PENDING,
                        rx.button("Check again", size="1", variant="ghost", on_click=Data.refresh_exports,
                                          data_testid="export-check-again"))),
        rx.cond(row["expires"] != "", rx.text("until ", row["expires"], size="1", color=MUTED)),
        spacing="3", align="center", wrap="wrap",
    )


def _data_section() -> rx.Component:
    return _section(
        "Your data",
        rx.text("Download what we hold about you and what you may see of this workspace, as a ZIP of JSON files "
                "and the videos. It is emailed to you only.",
                size="2", color=MUTED),
        rx.text(Data.export_scope, size="2", id="export-scope", data_testid="export-scope"),
        rx.button("Export my data", on_click=Data.request_export, color_scheme="violet", id="request-export",
                  data_testid="request-export", width="fit-content"),
        _note(Data.export_message, "export-message"),
        rx.foreach(Data.export_rows, _export_row),
        id="data-privacy",
    )


def _key_row(key: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(key["name"]), rx.table.cell(rx.code(key["prefix"])), rx.table.cell(key["created"]),
        rx.table.cell(key["last_used"]),
        rx.table.cell(rx.hstack(
            rx.button("Replace", size="1", variant="soft", on_click=Keys.ask_rotate(key["id"]),
                      aria_label="Replace " + key["name"]),
            rx.button("Revoke", size="1", variant="soft", color_scheme="red", on_click=Keys.ask_revoke(key["id"]),
                      aria_label="Revoke " + key["name"]),
            spacing="2")),
        class_name="api-key-row",
    )


def _keys_section() -> rx.Component:
    secret = rx.cond(Keys.revealed_secret != "", rx.callout.root(
        rx.callout.text(rx.cond(Keys.replaced, "The old key stopped working. ", ""), "New key “",
                        Keys.revealed_name, "”. Copy this key now: it will not be shown again.",
                        data_testid="new-key-notice"),
        rx.hstack(rx.code(Keys.revealed_secret, id="new-key-secret", word_break="break-all"),
                  rx.button("Copy", size="1", on_click=Keys.copy_secret, id="copy-key", data_testid="copy-key"),
                  rx.button("Done", size="1", variant="soft", on_click=Keys.dismiss_secret), wrap="wrap"),
        color_scheme="green", width="100%"))
    revoke = rx.alert_dialog.root(rx.alert_dialog.content(
        rx.alert_dialog.title("Revoke this key?"),
        rx.alert_dialog.description("Programs using it stop working at once."),
        rx.hstack(rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray",
                                                   on_click=Keys.close_revoke)),
                  rx.alert_dialog.action(rx.button("Revoke", color_scheme="red", on_click=Keys.revoke_key,
                                                   id="confirm-revoke")),
                  spacing="3", justify="end", margin_top="1em"),
    ), open=Keys.confirm_revoke_id != "")
    rotate = rx.alert_dialog.root(rx.alert_dialog.content(
        rx.alert_dialog.title("Replace this key?"),
        rx.alert_dialog.description("You get a new secret, and the old one stops working at once: update the "
                                    "programs that use it."),
        rx.hstack(rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray",
                                                   on_click=Keys.close_rotate)),
                  rx.alert_dialog.action(rx.button("Replace key", color_scheme="violet", on_click=Keys.rotate_key,
                                                   id="confirm-rotate", data_testid="confirm-rotate")),
                  spacing="3", justify="end", margin_top="1em"),
    ), open=Keys.confirm_rotate_id != "")
    return _section(
        "API and integration",
        rx.text("Use a key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>' for the videos and usage API. "
                "See the ", rx.el.a("API reference", href=routes.API_DOCS, reload_document=True, target="_blank",
                                    style={"color": "#5b21b6", "text_decoration": "underline"},
                                    data_testid="api-docs-link"),
                ".", size="2", color=MUTED, class_name="wrap-anywhere"),
        rx.hstack(
            rx.el.label("Key name", html_for="new-key-name", class_name="sr-only"),
            rx.input(id="new-key-name", value=Keys.new_key_name, on_change=Keys.set_new_key_name,
                     placeholder="Name, e.g. CI pipeline", max_length=80),
            rx.button("Create key", on_click=Keys.create_key, color_scheme="violet", id="create-key",
                      data_testid="create-key"),
            wrap="wrap",
        ),
        secret, _note(Keys.key_message, "key-message"),
        rx.cond(Keys.keys.length() > 0,
                rx.box(rx.table.root(_header("Name", "Prefix", "Created", "Last used", "Actions"),
                                     rx.table.body(rx.foreach(Keys.keys, _key_row)), width="100%"),
                       class_name="table-scroll", width="100%"),
                rx.text("No API keys yet.", size="2", color=MUTED)),
        revoke, rotate, id="api-keys",
    )


def _header(*names: str) -> rx.Component:
    """A table header row; every column is named (the last, of buttons, for screen readers only)."""
    *shown, last = names
    return rx.table.header(rx.table.row(*[rx.table.column_header_cell(n) for n in shown],
                                        rx.table.column_header_cell(rx.text.span(last, class_name="sr-only"))))


def _session_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row["device"], rx.cond(row["current"] == "yes", rx.badge("This device", margin_left="0.5em"))),
        rx.table.cell(row["ip"], white_space="nowrap"),
        rx.table.cell(rx.moment(row["last_seen_iso"], from_now=True, title=row["last_seen"])),
        rx.table.cell(rx.cond(row["current"] == "yes", rx.fragment(),
                              rx.button("Sign out", size="1", variant="soft", color_scheme="red",
                                        on_click=Sec.revoke(row["id"]), aria_label="Sign out " + row["device"]))),
        class_name="session-row", data_testid="session-row",
    )


def _activity_item(item: rx.Var) -> rx.Component:
    """One thing that happened, as a sentence, with when (relative; the exact time on hover), who and where."""
    return rx.el.li(
        rx.text(item["summary"], size="2", weight="medium"),
        rx.text(rx.moment(item["iso"], from_now=True, title=item["when"]), " · ", item["actor"], " · ", item["ip"],
                size="1", color=MUTED, class_name="wrap-anywhere"),
        class_name="activity-item", data_testid="activity-item", padding_y="0.4em",
        border_bottom="1px solid #f0eef8", list_style="none",
    )


def _pager() -> rx.Component:
    return rx.cond(Sec.activity_pages > 1, rx.hstack(
        rx.button("Newer", size="1", variant="soft", disabled=Sec.activity_page == 0,
                  on_click=Sec.go_to_activity(Sec.activity_page - 1)),
        rx.text("Page ", Sec.activity_page + 1, " of ", Sec.activity_pages, size="2"),
        rx.button("Older", size="1", variant="soft", disabled=Sec.activity_page + 1 >= Sec.activity_pages,
                  on_click=Sec.go_to_activity(Sec.activity_page + 1)),
        align="center", spacing="3", data_testid="activity-pager"))


def _security_sections() -> rx.Component:
    return rx.fragment(
        _section("Sessions and security",
                 rx.box(rx.table.root(_header("Device", "IP", "Last seen", "Actions"),
                                      rx.table.body(rx.foreach(Sec.sessions, _session_row)), width="100%"),
                        class_name="table-scroll", width="100%"),
                 _note(Sec.session_message, "session-message"),
                 native_form(rx.button("Sign out everywhere", type="submit", color_scheme="red", variant="soft"),
                             action=routes.SESSION_SIGN_OUT_ALL),
                 id="sessions"),
        rx.cond(Sec.can_view_activity, _section(
            "Recent activity",
            rx.el.ul(rx.foreach(Sec.activity, _activity_item), padding="0", margin="0", width="100%"),
            _pager(), id="activity")),
    )


def account_page() -> rx.Component:
    """The account page: your data, API keys (owners, admins), sessions, activity (owners, admins), backups
    (owners), and the danger zone last. What a role cannot do is not shown (`permissions.can`)."""
    return rx.vstack(
        rx.heading("Account", size="7", as_="h1"),
        rx.text("Signed in as ", rx.text.strong(Data.user_email), color=MUTED, class_name="wrap-anywhere"),
        _data_section(), rx.cond(Keys.can_manage_keys, _keys_section()), _security_sections(),
        rx.cond(Sec.backup_line != "", rx.text(Sec.backup_line, size="2", color=MUTED, id="backup-status")),
        danger_zone(),
        spacing="4", width="100%", max_width="960px",
    )
