"""One render: live per-step progress (a background task follows the job), player, cancel."""

from __future__ import annotations

import asyncio

import reflex as rx

from saas_app import routes
from saas_app.db import session_scope
from saas_app.services.renders import submission as renders
from saas_app.services.account.audit import RequestContext
from saas_app.services.auth.sessions import Principal
from saas_app.services.core.errors import AppError, NotFound
from saas_app.services.renders.status import RenderStatus
from saas_app.services.renders.views import describe_render
from saas_app.state.formatting import charge_text, format_date, format_duration
from saas_app.state.usage import UsageState

POLL_SECONDS = 0.7


def _describe(principal: Principal, render_id: str) -> dict:
    with session_scope() as session:
        render = renders.get_render_or_raise(session=session, tenant_id=principal.tenant_id, render_id=render_id)
        return describe_render(session=session, render=render)


def _cancel(principal: Principal, render_id: str, ctx: RequestContext) -> None:
    with session_scope() as session:
        renders.cancel_render(session=session, principal=principal, render_id=render_id, ctx=ctx)


class RenderState(UsageState):
    """Display values of the render on screen; the id comes from the URL and is re-checked per tenant."""

    render_id: str = ""
    topic: str = ""
    status: str = ""
    steps: list[dict[str, str]] = []
    error: str = ""
    notes: str = ""
    created: str = ""
    duration: str = ""
    charged: list[str] = []
    not_found: bool = False
    following: bool = False
    action_message: str = ""

    @rx.var
    def finished(self) -> bool:
        """Whether the render has ended."""
        return self.status in RenderStatus.TERMINAL

    @rx.var
    def video_url(self) -> str:
        """Where the player streams from (tenant-checked by the API)."""
        return routes.render_video(self.render_id) if self.status == RenderStatus.SUCCEEDED else ""

    def _show(self, data: dict) -> None:
        self.topic, self.status = data["topic"], data["status"]
        self.error, self.notes = data["error"] or "", data["notes"] or ""
        self.created = format_date(data["created_at"])
        self.duration = format_duration(data["duration_seconds"]) if data["has_video"] else ""
        self.steps = [{"label": s["label"], "status": s["status"], "detail": s["detail"],
                       "percent": f"{round(100 * s['progress'])}"} for s in data["steps"]]
        self.charged = [charge_text(m, v) for m, v in data["usage"].items() if v > 0]

    @rx.event
    async def load(self):
        """on_load: show the render named in the URL and start following it."""
        principal = await self._resolve_principal()
        if principal is None:
            return
        self.render_id = self.router.url.path.rstrip("/").rsplit("/", 1)[-1][:32]
        self.action_message = ""
        try:
            self._show(await asyncio.to_thread(_describe, principal, self.render_id))
            self.not_found = False
        except NotFound:
            self.not_found = True
            return
        if not self.finished and not self.following:
            return RenderState.follow

    @rx.event(background=True)
    async def follow(self):
        """Poll the render until it ends, refreshing steps and the usage banner."""
        async with self:
            if self.following:
                return
            self.following = True
            render_id = self.render_id
            principal = await self._resolve_principal()
        try:
            while principal is not None:
                await asyncio.sleep(POLL_SECONDS)
                data = await asyncio.to_thread(_describe, principal, render_id)
                async with self:
                    if self.render_id != render_id:
                        return
                    self._show(data)
                    await self._refresh(principal)
                    if self.finished:
                        return
        except AppError:
            return
        finally:
            async with self:
                self.following = False

    @rx.event
    async def cancel(self):
        """Stop this render."""
        principal = await self._resolve_principal()
        if principal is None:
            return self._to_login()
        try:
            await asyncio.to_thread(_cancel, principal, self.render_id, self._request_context())
            self.action_message = "Render canceled. Nothing more will be charged."
        except AppError as exc:
            self.action_message = exc.message
        self._show(await asyncio.to_thread(_describe, principal, self.render_id))
        await self._refresh(principal)

    @rx.event
    def back_to_library(self):
        """Go to the library."""
        return rx.redirect(routes.LIBRARY)
