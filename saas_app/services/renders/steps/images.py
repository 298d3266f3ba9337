"""The images step: one still per scene, on the chosen template or the scene's uploaded image
(fetched from the store), charged per image."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from saas_app.services.core.storage import Area, get_store
from saas_app.services.renders.media import images
from saas_app.services.renders.steps.base import RenderCanceled, RenderContext, Step, StepError, StepResult
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


def _fetch_image(ctx: RenderContext, index: int, key: str) -> Path:
    """Copy a scene's uploaded image from the store into the work folder."""
    path = ctx.work / f"upload_{index}"
    ctx.work.mkdir(parents=True, exist_ok=True)
    try:
        with get_store(Area.RENDERS).open(key=key) as source, path.open("wb") as target:
            shutil.copyfileobj(source, target)
    except FileNotFoundError as exc:
        raise StepError(f"The image chosen for scene {index + 1} was deleted from your library; "
                        "please choose another.", transient=False) from exc
    return path


def _run(ctx: RenderContext) -> StepResult:
    for i, scene in enumerate(ctx.scenes):
        if ctx.canceled():
            raise RenderCanceled()
        background = _fetch_image(ctx, i, scene["image_key"]) if scene.get("image_key") else None
        focus = tuple(scene.get("focus") or (0.5, 0.5))
        images.render_scene_image(topic=ctx.topic, text=scene["text"], index=i, total=len(ctx.scenes),
                                  template_id=ctx.template, resolution=ctx.resolution, out_path=png_path(ctx, i),
                                  aspect=ctx.aspect, background=background, focus=(focus[0], focus[1]))
        ctx.report((i + 1) / len(ctx.scenes))
    count = float(len(ctx.scenes))
    return StepResult({IMAGES.name: count}, detail=IMAGES.text(count))


STEP = Step("images", "Images", _run, charges=(IMAGES.name,), estimate=_estimate, work_files=_work_files)
