"""The library: this tenant's renders, paginated, with delete after confirmation; the cards follow
running renders by themselves (the tab's update stream, `UsageState.watch`)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from saas_app import routes
from saas_app.services.auth.sessions import Principal
from saas_app.services.renders import submission as renders
from saas_app.services.renders.views import RenderPage, list_render_page
from saas_app.state.formatting import format_date, format_duration
from saas_app.state.usage import UsageState, live_page

PAGE_SIZE = 12


@live_page(routes.LIBRARY)
class LibraryState(UsageState):
    """One page of renders as display rows."""

    items: list[dict[str, str]] = []
    page: int = 0
    total: int = 0
    loaded: bool = False
    confirm_id: str = ""
    confirm_topic: str = ""
    message: str = ""

    @rx.var
    def page_count(self) -> int:
        """How many pages there are."""
        return max(1, -(-self.total // PAGE_SIZE))

    async def _fetch_page(self, principal: Principal, page: int) -> RenderPage:
        return await self._call(list_render_page, principal=principal, limit=PAGE_SIZE,
                                offset=page * PAGE_SIZE)

    def _show_page(self, page: RenderPage) -> None:
        self.total = page.total
        self.items = [{
            "id": r.id, "topic": r.topic, "status": r.status,
            "duration": format_duration(r.duration_seconds) if r.has_video else "",
            "date": format_date(r.created_at), "href": routes.render_path(r.id),
            "thumb": routes.render_thumbnail(r.id) if r.has_video else "",
        } for r in page.items]
        self.loaded = True

    async def _load(self, principal: Principal) -> None:
        self._show_page(await self._fetch_page(principal, self.page))

    def _live_args(self) -> dict[str, Any] | None:
        return {"page": self.page} if self.loaded else None

    async def _fetch_live(self, principal: Principal, args: dict[str, Any]) -> Any:
        return await self._fetch_page(principal, args["page"])

    def _show_live(self, data: Any, args: dict[str, Any]) -> None:
        self._show_page(data)

    async def _reload(self, principal: Principal) -> None:
        await self._load(principal)
        await self._refresh(principal)

    @rx.event
    async def load(self):
        """on_load: first page."""
        principal = await self._resolve_principal()
        if principal is not None:
            self.page, self.message = 0, ""
            await self._load(principal)

    @rx.event
    async def go_to(self, page: int):
        """Show another page."""
        principal = await self._resolve_principal()
        if principal is None:
            return self._to_login()
        self.page = max(0, min(page, self.page_count - 1))
        await self._load(principal)

    @rx.event
    def ask_delete(self, render_id: str, topic: str):
        """Open the confirmation dialog."""
        self.confirm_id, self.confirm_topic = render_id, topic

    @rx.event
    def close_confirm(self):
        """Close the dialog without deleting."""
        self.confirm_id, self.confirm_topic = "", ""

    @rx.event
    async def confirm_delete(self):
        """Delete the confirmed render (the service checks it belongs to this tenant)."""
        render_id, topic = self.confirm_id, self.confirm_topic
        self.confirm_id, self.confirm_topic = "", ""
        outcome = await self._act(renders.delete_render, done=f"Deleted “{topic}”.", render_id=render_id)
        if outcome is None:
            return self._to_login()
        self.message = outcome.message
