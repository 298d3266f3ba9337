"""One render: live per-step progress (a background task follows the job), player, cancel."""

from __future__ import annotations

import asyncio

import reflex as rx

from saas_app import routes
from saas_app.services.auth.sessions import Principal
from saas_app.services.core.errors import AppError, NotFound
from saas_app.services.renders import submission as renders
from saas_app.services.renders.status import RenderStatus, StepStatus
from saas_app.services.renders.views import RenderDetail, get_render_detail
from saas_app.state.formatting import charge_text, format_date, format_duration
from saas_app.state.usage import UsageState

POLL_SECONDS = 0.7


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
    has_captions: bool = False

    @rx.var
    def finished(self) -> bool:
        """Whether the render has ended."""
        return self.status in RenderStatus.TERMINAL

    @rx.var
    def video_url(self) -> str:
        """Where the player streams from (tenant-checked by the API)."""
        return routes.render_video(self.render_id) if self.status == RenderStatus.SUCCEEDED else ""

    @rx.var
    def captions_srt_url(self) -> str:
        """The captions as SubRip (a download)."""
        return routes.render_file(self.render_id, "srt") if self.has_captions else ""

    @rx.var
    def captions_vtt_url(self) -> str:
        """The captions as WebVTT (a download)."""
        return routes.render_file(self.render_id, "vtt") if self.has_captions else ""

    def _show(self, render: RenderDetail) -> None:
        self.has_captions = render.status == RenderStatus.SUCCEEDED and any(
            s.name == "captions" and s.status == StepStatus.DONE for s in render.steps)
        self.topic, self.status = render.topic, render.status
        self.error, self.notes = render.error or "", render.notes or ""
        self.created = format_date(render.created_at)
        self.duration = format_duration(render.duration_seconds) if render.has_video else ""
        self.steps = [{"label": s.label, "status": s.status, "detail": s.detail,
                       "percent": f"{round(100 * s.progress)}"} for s in render.steps]
        self.charged = [charge_text(m, v) for m, v in render.usage.items() if v > 0]

    async def _fetch(self, principal: Principal, render_id: str) -> RenderDetail:
        return await self._call(get_render_detail, tenant_id=principal.tenant_id, render_id=render_id)

    async def _reload(self, principal: Principal) -> None:
        self._show(await self._fetch(principal, self.render_id))
        await self._refresh(principal)

    @rx.event
    async def load(self):
        """on_load: show the render named in the URL and start following it."""
        principal = await self._resolve_principal()
        if principal is None:
            return
        self.render_id = self.router.url.path.rstrip("/").rsplit("/", 1)[-1][:32]
        self.action_message = ""
        try:
            self._show(await self._fetch(principal, self.render_id))
            self.not_found = False
        except NotFound:
            self.not_found = True
            return
        if not self.finished and not self.following:
            return RenderState.follow

    @rx.event(background=True)
    async def follow(self):
        """Poll the render until it ends, refreshing steps and the usage banner (unlocked while it reads)."""
        async with self:
            if self.following:
                return
            self.following = True
            render_id = self.render_id
        try:
            principal = await self._background_principal()
            while principal is not None:
                await asyncio.sleep(POLL_SECONDS)
                render = await self._fetch(principal, render_id)
                banner = await self._fetch_banner(principal)
                async with self:
                    if self.render_id != render_id:
                        return
                    self._show(render)
                    self._show_banner(banner)
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
        outcome = await self._act(renders.cancel_render, done="Render canceled. Nothing more will be charged.",
                                  render_id=self.render_id)
        if outcome is None:
            return self._to_login()
        self.action_message = outcome.message
