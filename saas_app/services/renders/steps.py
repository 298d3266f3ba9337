"""The render steps: speech, images, video. Each returns the usage it produced.

Adding a metered step: write a function `(RenderContext) -> StepResult`, register it in
`STEP_FUNCS` and `renders.STEPS`, and list its files in `artifacts_ok`. The pipeline
charges `StepResult.amounts` exactly once when the step completes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from saas_app.db import session_scope
from saas_app.models import Render, RenderStep
from saas_app.services.usage import quotas
from saas_app.services.renders.media import images
from saas_app.services.renders.media import speech
from saas_app.services.renders.media import video
from saas_app.services.usage.plans import images_text
from saas_app.settings import get_settings

log = logging.getLogger(__name__)


class RenderCanceled(Exception):
    """The render was canceled while running."""


class StepError(Exception):
    """A step failed; `message` is for the user, `transient` says whether a retry may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.message, self.transient = message, transient


@dataclass
class StepResult:
    """What a step produced: usage to charge, and updates for the render row."""

    amounts: dict[str, float]
    detail: str = ""
    render_updates: dict = field(default_factory=dict)


@dataclass
class RenderContext:
    """Everything a step needs, loaded once per job."""

    render_id: str
    tenant_id: str
    user_id: str
    topic: str
    scenes: list[dict]
    template: str
    voice: str
    resolution: str
    folder: Path
    report: Callable[[float], None] = lambda _p: None
    canceled: Callable[[], bool] = lambda: False

    @property
    def work(self) -> Path:
        """Intermediate files (removed when the render ends)."""
        return self.folder / "work"


def _speech(ctx: RenderContext) -> StepResult:
    durations, fell_back, used_voice = [], False, ctx.voice
    for i, scene in enumerate(ctx.scenes):
        if ctx.canceled():
            raise RenderCanceled()
        result = speech.synthesize(text=scene.get("narration") or scene["text"], voice=ctx.voice,
                                   out_path=ctx.work / f"scene_{i}.wav")
        durations.append(result.seconds)
        fell_back, used_voice = fell_back or result.fell_back, result.voice
        ctx.report((i + 1) / len(ctx.scenes))
    manifest = {"durations": durations, "voice": used_voice, "fell_back": fell_back}
    (ctx.work / "speech.json").write_text(json.dumps(manifest))
    note = f"Voice '{ctx.voice}' is not available; English was used." if fell_back else ""
    return StepResult({"tts_seconds": round(sum(durations), 3)}, detail=f"{sum(durations):.1f} s of narration",
                      render_updates={"notes": note} if note else {})


def _images(ctx: RenderContext) -> StepResult:
    for i, scene in enumerate(ctx.scenes):
        if ctx.canceled():
            raise RenderCanceled()
        images.render_scene_image(topic=ctx.topic, text=scene["text"], index=i, total=len(ctx.scenes),
                                  template_id=ctx.template, resolution=ctx.resolution,
                                  out_path=ctx.work / f"scene_{i}.png")
        ctx.report((i + 1) / len(ctx.scenes))
    return StepResult({"images_count": float(len(ctx.scenes))}, detail=images_text(len(ctx.scenes)))


def _video(ctx: RenderContext) -> StepResult:
    durations = json.loads((ctx.work / "speech.json").read_text())["durations"]
    scenes = [video.Scene(ctx.work / f"scene_{i}.png", ctx.work / f"scene_{i}.wav", d)
              for i, d in enumerate(durations)]
    out = ctx.folder / "video.mp4"
    try:
        video.encode_video(scenes=scenes, out_path=out, timeout=get_settings().RENDER_STEP_TIMEOUT_SECONDS,
                           on_progress=ctx.report, should_cancel=ctx.canceled)
    except video.FfmpegCanceled as exc:
        raise RenderCanceled() from exc
    except video.FfmpegTimeout as exc:
        raise StepError("Rendering the video took too long and was stopped.", transient=True) from exc
    except video.FfmpegFailed as exc:
        log.error("ffmpeg failed for %s: %s", ctx.render_id, exc)
        raise StepError("The video encoder failed.", transient=True) from exc
    thumb = images.make_thumbnail(source=ctx.work / "scene_0.png", out_path=ctx.folder / "thumb.jpg")
    seconds = video.probe(out).seconds or sum(durations)
    size = out.stat().st_size + thumb.stat().st_size
    return StepResult({"render_minutes": quotas.ceil_minutes(seconds), "storage_mb": round(size / 1048576, 6)},
                      detail=f"{seconds:.1f} s video", render_updates={"duration_seconds": seconds,
                                                                        "size_bytes": size})


STEP_FUNCS: dict[str, Callable[[RenderContext], StepResult]] = {"speech": _speech, "images": _images, "video": _video}


def artifacts_ok(ctx: RenderContext, name: str) -> bool:
    n = len(ctx.scenes)
    wanted = {
        "speech": [ctx.work / "speech.json", *[ctx.work / f"scene_{i}.wav" for i in range(n)]],
        "images": [ctx.work / f"scene_{i}.png" for i in range(n)],
        "video": [ctx.folder / "video.mp4", ctx.folder / "thumb.jpg"],
    }[name]
    return all(p.exists() for p in wanted)


def attach_watchers(ctx: RenderContext, step_id: int) -> None:
    state = {"last": 0.0, "checked": 0.0, "canceled": False}

    def report(progress: float) -> None:
        now = time.monotonic()
        if now - state["last"] >= 0.3 or progress >= 1:
            state["last"] = now
            with session_scope() as s:
                step = s.get(RenderStep, step_id)
                if step is not None:
                    step.progress = round(progress, 3)
                    s.add(step)

    def canceled() -> bool:
        now = time.monotonic()
        if not state["canceled"] and now - state["checked"] >= 0.3:
            state["checked"] = now
            with session_scope() as s:
                render = s.get(Render, ctx.render_id)
                state["canceled"] = render is None or render.status == "canceled" or render.deleted_at is not None
        return bool(state["canceled"])

    ctx.report, ctx.canceled = report, canceled
