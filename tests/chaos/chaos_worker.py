"""A real worker (`python -m chaos_worker`) with a faulty engine plugged in through the step registry.

`CHAOS_IMAGES` replaces the images step by one that draws the same stills through a faulty engine:
  - `slow:<s>`: each still takes <s> seconds (the step still reports progress and checks for a cancel);
  - `flaky:<folder>`: the engine fails on the second still of the first attempt (a marker file in
    <folder> remembers it failed), then works;
  - `broken`: the engine fails on the second still of every attempt.
`CHAOS_SPEECH=no-engine` makes espeak-ng's library impossible to load (its file is missing), as on a
host where the package is broken; the product's own speech step runs and must fall back.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import espeakng_loader

from saas_app.services.renders.media import images
from saas_app.services.renders.steps import images as image_step
from saas_app.services.renders.steps.base import RenderCanceled, RenderContext, Step, StepError, StepResult
from saas_app.services.renders.steps.registry import STEPS
from saas_app.services.usage.metrics import IMAGES

IMAGE_ENGINE_FAILED = "The image engine could not draw scene 2."


def _fault_before(ctx: RenderContext, index: int, fault: str) -> None:
    kind, _, arg = fault.partition(":")
    if kind == "slow":
        time.sleep(float(arg))
    elif index == 1 and kind == "broken":
        raise StepError(IMAGE_ENGINE_FAILED, transient=True)
    elif index == 1 and kind == "flaky":
        marker = Path(arg) / f"failed-{ctx.render_id}"
        if not marker.exists():
            marker.touch()
            raise StepError(IMAGE_ENGINE_FAILED, transient=True)


def _faulty_images(fault: str) -> Step:
    def run(ctx: RenderContext) -> StepResult:
        for i, scene in enumerate(ctx.scenes):
            if ctx.canceled():
                raise RenderCanceled()
            _fault_before(ctx, i, fault)
            images.render_scene_image(topic=ctx.topic, text=scene["text"], index=i, total=len(ctx.scenes),
                                      template_id=ctx.template, resolution=ctx.resolution,
                                      out_path=image_step.png_path(ctx, i))
            ctx.report((i + 1) / len(ctx.scenes))
        count = float(len(ctx.scenes))
        return StepResult({IMAGES.name: count}, detail=IMAGES.text(count))

    real = image_step.STEP
    return Step(real.name, real.label, run, charges=real.charges, estimate=real.estimate,
                work_files=real.work_files, keeps=real.keeps)


def plug_faults() -> None:
    """Apply the faults the environment asks for (in this process)."""
    fault = os.environ.get("CHAOS_IMAGES", "")
    if fault:
        after = STEPS.names()[STEPS.names().index("images") + 1]
        STEPS.remove("images")
        STEPS.add(_faulty_images(fault), before=after)
    if os.environ.get("CHAOS_SPEECH") == "no-engine":
        espeakng_loader.get_library_path = lambda: "/nonexistent/libespeak-ng.so"


def main() -> None:
    from saas_app.jobs import worker

    plug_faults()
    worker.main()


if __name__ == "__main__":
    main()
