"""`/library`: this workspace's videos with thumbnail, status, duration and date."""

from __future__ import annotations

import reflex as rx

from saas_app import routes
from saas_app.components.status_badge import status_badge
from saas_app.components.theme import MUTED
from saas_app.state.library import LibraryState


def _card(item: rx.Var) -> rx.Component:
    thumb = rx.cond(
        item["thumb"] != "",
        rx.image(src=item["thumb"], alt="Thumbnail of " + item["topic"], width="100%", aspect_ratio="16 / 9",
                 object_fit="cover", border_radius="6px"),
        rx.center(rx.icon("film", size=32, color="#a78bfa"), width="100%", aspect_ratio="16 / 9",
                  background="#ede9fe", border_radius="6px"),
    )
    return rx.card(
        rx.vstack(
            rx.link(thumb, href=item["href"], width="100%"),
            rx.link(rx.text(item["topic"], weight="bold"), href=item["href"], color="#1f1f2e",
                    data_testid="library-card-link", overflow_wrap="anywhere"),
            rx.hstack(status_badge(item["status"]), rx.text(item["duration"], size="2", color=MUTED,
                                                            data_testid="library-card-duration"),
                      align="center", spacing="2"),
            rx.hstack(
                rx.text(item["date"], size="1", color=MUTED), rx.spacer(),
                rx.icon_button(rx.icon("trash-2", size=16), variant="ghost", color_scheme="red",
                               aria_label="Delete " + item["topic"], data_testid="library-card-delete",
                               on_click=LibraryState.ask_delete(item["id"], item["topic"])),
                width="100%", align="center",
            ),
            spacing="2", width="100%",
        ),
        class_name="library-card", data_testid="library-card", data_render_id=item["id"],
        data_status=item["status"], min_width="0",
    )


def _confirm_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this video?"),
            rx.alert_dialog.description(
                "“", LibraryState.confirm_topic, "” and its files will be deleted. This cannot be undone."),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray",
                                                 on_click=LibraryState.close_confirm, data_testid="keep-video")),
                rx.alert_dialog.action(rx.button("Delete", color_scheme="red", on_click=LibraryState.confirm_delete,
                                                 id="confirm-delete", data_testid="confirm-delete")),
                spacing="3", justify="end", margin_top="1em",
            ),
        ),
        open=LibraryState.confirm_id != "",
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.button("Previous", on_click=LibraryState.go_to(LibraryState.page - 1), disabled=LibraryState.page == 0,
                  variant="soft", color_scheme="gray", data_testid="library-previous"),
        rx.text("Page ", LibraryState.page + 1, " of ", LibraryState.page_count, size="2", color=MUTED),
        rx.button("Next", on_click=LibraryState.go_to(LibraryState.page + 1),
                  disabled=LibraryState.page + 1 >= LibraryState.page_count, variant="soft", color_scheme="gray",
                  data_testid="library-next"),
        align="center", spacing="3",
    )


def library_page() -> rx.Component:
    """The library grid, its empty state and pagination."""
    return rx.vstack(
        rx.hstack(rx.heading("Library", size="7", as_="h1"), rx.spacer(),
                  rx.link(rx.button(rx.icon("plus", size=16), "New video", color_scheme="violet"), href=routes.CREATE,
                          data_testid="library-new-video"),
                  width="100%", align="center"),
        rx.cond(LibraryState.message != "", rx.text(LibraryState.message, color=MUTED, role="status",
                                                    data_testid="library-message")),
        rx.cond(
            ~LibraryState.loaded,
            rx.center(rx.spinner(), width="100%", padding="3em"),
            rx.cond(
                LibraryState.total == 0,
                rx.center(
                    rx.vstack(rx.icon("clapperboard", size=40, color="#a78bfa"),
                              rx.text("No videos yet", weight="bold", size="4"),
                              rx.text("Your finished and in-progress videos will appear here.", color=MUTED),
                              rx.link(rx.button("Create your first video", color_scheme="violet"),
                                      href=routes.CREATE),
                              align="center", spacing="3"),
                    width="100%", padding="3em", id="library-empty", data_testid="library-empty",
                ),
                rx.vstack(
                    rx.grid(rx.foreach(LibraryState.items, _card), columns=rx.breakpoints(initial="1", sm="2", md="3"),
                            spacing="4", width="100%"),
                    rx.cond(LibraryState.page_count > 1, _pager()), spacing="4", width="100%",
                ),
            ),
        ),
        _confirm_dialog(),
        spacing="4", width="100%",
    )
