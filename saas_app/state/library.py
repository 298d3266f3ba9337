"""The library: this tenant's renders, paginated, with delete after confirmation."""

from __future__ import annotations

import asyncio

import reflex as rx

from saas_app import routes
from saas_app.db import session_scope
from saas_app.services.renders import submission as renders
from saas_app.services.account.audit import RequestContext
from saas_app.services.auth.sessions import Principal
from saas_app.services.core.errors import AppError
from saas_app.services.renders.views import summarize_render
from saas_app.state.formatting import format_date, format_duration
from saas_app.state.usage import UsageState

PAGE_SIZE = 12


def _page(principal: Principal, page: int) -> tuple[list[dict], int]:
    with session_scope() as session:
        rows, total = renders.list_renders(session=session, tenant_id=principal.tenant_id, limit=PAGE_SIZE,
                                           offset=page * PAGE_SIZE)
        return [summarize_render(r) for r in rows], total


def _delete(principal: Principal, render_id: str, ctx: RequestContext) -> None:
    with session_scope() as session:
        renders.delete_render(session=session, principal=principal, render_id=render_id, ctx=ctx)


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

    async def _load(self, principal: Principal) -> None:
        rows, self.total = await asyncio.to_thread(_page, principal, self.page)
        self.items = [{
            "id": r["id"], "topic": r["topic"], "status": r["status"],
            "duration": format_duration(r["duration_seconds"]) if r["has_video"] else "",
            "date": format_date(r["created_at"]), "href": routes.render_path(r["id"]),
            "thumb": routes.render_thumbnail(r["id"]) if r["has_video"] else "",
        } for r in rows]
        self.loaded = True

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
        principal = await self._resolve_principal()
        if principal is None:
            return self._to_login()
        render_id, topic = self.confirm_id, self.confirm_topic
        self.confirm_id, self.confirm_topic = "", ""
        try:
            await asyncio.to_thread(_delete, principal, render_id, self._request_context())
            self.message = f"Deleted “{topic}”."
        except AppError as exc:
            self.message = exc.message
        await self._load(principal)
        await self._refresh(principal)
