"""A toy metered step, added the way docs/extending.md says, from outside the product's code.

The step makes a small animated GIF preview from the scene stills and is charged in a new
metric, preview frames (two per scene). It keeps `preview.gif`, so it is also charged the
storage the file takes. Tests register it with `registered()`; a worker that knows it is
started with ``python -m toy_step`` (this folder on PYTHONPATH), which registers it and then
runs the product's worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from PIL import Image, ImageEnhance

from saas_app.services.renders.steps.base import KeptFile, RenderCanceled, RenderContext, Step, StepResult
from saas_app.services.renders.steps.images import png_path
from saas_app.services.renders.steps.registry import STEPS
from saas_app.services.usage.metrics import METRICS, STORAGE, Count, Metric

if TYPE_CHECKING:
    from saas_app.services.renders.input import RenderInput

FRAMES_PER_SCENE = 2
FRAME_WIDTH = 160
MB_PER_FRAME = 0.05  # a 160x90 GIF frame is a few KB; the estimate is an upper bound

# Previews count against the images quota setting (a real metric would add QUOTA_PREVIEW_FRAMES).
PREVIEW_FRAMES = Metric("preview_frames", "Preview frames", Count("frame", "frames"), "QUOTA_IMAGES_COUNT",
                        charged="{} previewed", estimated="{} of preview")
PREVIEW = KeptFile("preview", "preview.gif", "image/gif")


def _estimate(request: RenderInput) -> dict[str, float]:
    frames = FRAMES_PER_SCENE * len(request.scenes)
    return {PREVIEW_FRAMES.name: float(frames), STORAGE.name: round(frames * MB_PER_FRAME, 3)}


def _run(ctx: RenderContext) -> StepResult:
    frames: list[Image.Image] = []
    for i in range(len(ctx.scenes)):
        if ctx.canceled():
            raise RenderCanceled()
        with Image.open(png_path(ctx, i)) as still:
            small = still.convert("RGB")
            small.thumbnail((FRAME_WIDTH, FRAME_WIDTH))
        frames += [small, ImageEnhance.Brightness(small).enhance(0.6)]  # the scene, then a dimmed blink
        ctx.report((i + 1) / len(ctx.scenes))
    out = ctx.folder / PREVIEW.filename
    partial = out.with_suffix(".tmp.gif")
    frames[0].save(partial, format="GIF", save_all=True, append_images=frames[1:], duration=400, loop=0)
    partial.replace(out)
    return StepResult({PREVIEW_FRAMES.name: float(len(frames))}, detail=f"{len(frames)} preview frames")


STEP = Step("preview", "GIF preview", _run, charges=(PREVIEW_FRAMES.name,), estimate=_estimate, keeps=(PREVIEW,))


@contextmanager
def registered() -> Iterator[None]:
    """The toy metric and step are registered for the duration of the block (then removed again)."""
    with METRICS.extended(PREVIEW_FRAMES), STEPS.extended(STEP):
        yield


def main() -> None:
    """A worker that knows the toy step: register it, then run the product's worker."""
    from saas_app.jobs import worker

    METRICS.add(PREVIEW_FRAMES)
    STEPS.add(STEP)
    worker.main()


if __name__ == "__main__":
    main()
