"""One render: live per-step progress (the tab's update stream, `UsageState.watch`), the player,
cancel after a confirmation that says what stays charged, and the ways on (create another,
edit & re-render)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from saas_app import routes
from saas_app.services.auth.sessions import Principal
from saas_app.services.core.errors import NotFound
from saas_app.services.renders import submission as renders
from saas_app.services.renders.charging import CHARGE_RULE, cancel_warning
from saas_app.services.renders.status import RenderStatus, StepStatus
from saas_app.services.renders.views import RenderDetail, get_render_detail
from saas_app.state.create import CreateState
from saas_app.state.formatting import charge_text, format_date, format_duration, format_elapsed
from saas_app.state.render_options import music_choice
from saas_app.state.usage import UsageState, live_page

_ENDED = {RenderStatus.SUCCEEDED: "Finished in", RenderStatus.FAILED: "Failed after",
          RenderStatus.CANCELED: "Canceled after"}


@live_page(routes.RENDER)
class RenderState(UsageState):
    """Display values of the render on screen; the id comes from the URL and is re-checked per tenant."""

    render_id: str = ""
    topic: str = ""
    status: str = ""
    steps: list[dict[str, str]] = []
    error: str = ""
    notes: str = ""
    timing: str = ""
    duration: str = ""
    charged: list[str] = []
    not_found: bool = False
    action_message: str = ""
    has_captions: bool = False
    confirm_cancel: bool = False
    charge_rule: str = CHARGE_RULE
    _input: dict[str, Any] = {}

    @rx.var
    def finished(self) -> bool:
        """Whether the render has ended."""
        return self.status in RenderStatus.TERMINAL

    @rx.var
    def succeeded(self) -> bool:
        """Whether the video is ready."""
        return self.status == RenderStatus.SUCCEEDED

    @rx.var
    def cancel_text(self) -> str:
        """What the cancel confirmation says stays charged (follows the charges while it is open)."""
        return cancel_warning(self.charged)

    @rx.var
    def video_url(self) -> str:
        """Where the player streams from and Download saves from (tenant-checked by the API)."""
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
        ended = _ENDED.get(RenderStatus(render.status)) if render.status in _ENDED else None
        if ended and render.finished_at is not None:
            began = render.started_at or render.created_at
            self.timing = f"{ended} {format_elapsed((render.finished_at - began).total_seconds())}"
        else:
            self.timing = f"Started {format_date(render.created_at)}"
        self.duration = format_duration(render.duration_seconds) if render.has_video else ""
        self.steps = [{"label": s.label, "status": s.status, "detail": s.detail,
                       "percent": f"{round(100 * s.progress)}"} for s in render.steps]
        self.charged = [charge_text(m, v) for m, v in render.usage.items() if v > 0]
        options = render.options
        self._input = {"topic": render.topic, "template": render.template, "voice": render.voice,
                       "resolution": render.resolution, "aspect": options.aspect, "captions": options.captions,
                       "music": music_choice(options.music, options.music_asset), "music_volume": options.music_volume,
                       "scenes": [{"text": s.text, "narration": s.narration or "", "image": s.image or ""}
                                  for s in render.scenes_detail]}

    async def _fetch(self, principal: Principal, render_id: str) -> RenderDetail:
        return await self._call(get_render_detail, principal=principal, render_id=render_id)

    async def _reload(self, principal: Principal) -> None:
        self._show(await self._fetch(principal, self.render_id))
        await self._refresh(principal)

    def _live_args(self) -> dict[str, Any] | None:
        return {"render_id": self.render_id} if self.render_id and not self.not_found else None

    async def _fetch_live(self, principal: Principal, args: dict[str, Any]) -> Any:
        try:
            return await self._fetch(principal, args["render_id"])
        except NotFound:
            return None

    def _show_live(self, data: Any, args: dict[str, Any]) -> None:
        if isinstance(data, RenderDetail):
            self._show(data)
        else:
            self.not_found = True

    @rx.event
    async def load(self):
        """on_load: show the render named in the URL (the tab's update stream keeps it current)."""
        principal = await self._resolve_principal()
        if principal is None:
            return
        self.render_id = self.router.url.path.rstrip("/").rsplit("/", 1)[-1][:32]
        self.action_message, self.confirm_cancel = "", False
        try:
            self._show(await self._fetch(principal, self.render_id))
            self.not_found = False
        except NotFound:
            self.not_found = True

    @rx.event
    def ask_cancel(self):
        """Open the cancel confirmation, saying what stays charged."""
        self.confirm_cancel = True

    @rx.event
    def keep_going(self):
        """Close the confirmation; the render goes on."""
        self.confirm_cancel = False

    @rx.event
    async def cancel(self):
        """Stop this render (confirmed)."""
        self.confirm_cancel = False
        outcome = await self._act(renders.cancel_render, done="Render canceled. Nothing more will be charged.",
                                  render_id=self.render_id)
        if outcome is None:
            return self._to_login()
        self.action_message = outcome.message

    @rx.event
    async def edit_rerender(self):
        """Open the create page filled with this render's input."""
        if not self._input:
            return None
        form = await self.get_state(CreateState)
        form._fill(**self._input)
        return rx.redirect(routes.CREATE)
