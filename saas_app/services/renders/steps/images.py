"""The images step: one still per scene from the chosen template, charged per image."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from saas_app.services.renders.media import images
from saas_app.services.renders.steps.base import RenderCanceled, RenderContext, Step, StepResult
from saas_app.services.usage.metrics import IMAGES

if TYPE_CHECKING:
    from saas_app.services.renders.input import RenderInput


def _estimate(request: RenderInput) -> dict[str, float]:
    return {IMAGES.name: float(len(request.scenes))}


def png_path(ctx: RenderContext, index: int) -> Path:
    """The still of scene `index`."""
    return ctx.work / f"scene_{index}.png"


def _work_files(ctx: RenderContext) -> list[Path]:
    return [png_path(ctx, i) for i in range(len(ctx.scenes))]


def _run(ctx: RenderContext) -> StepResult:
    for i, scene in enumerate(ctx.scenes):
        if ctx.canceled():
            raise RenderCanceled()
        images.render_scene_image(topic=ctx.topic, text=scene["text"], index=i, total=len(ctx.scenes),
                                  template_id=ctx.template, resolution=ctx.resolution, out_path=png_path(ctx, i),
                                  aspect=ctx.aspect)
        ctx.report((i + 1) / len(ctx.scenes))
    count = float(len(ctx.scenes))
    return StepResult({IMAGES.name: count}, detail=IMAGES.text(count))


STEP = Step("images", "Images", _run, charges=(IMAGES.name,), estimate=_estimate, work_files=_work_files)
