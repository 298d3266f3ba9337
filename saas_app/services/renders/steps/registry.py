"""The render pipeline's steps, in the order they run: the one list every reader uses.

The pipeline, the usage estimate and admission, the step rows made at submission, the labels
on the render page, the files kept per render (cleanup, downloads, exports) and the docs all
read `STEPS`. Adding a metered step is one module beside this one plus one line below.
"""

from __future__ import annotations

from saas_app.services.core.registry import Registry
from saas_app.services.renders.steps import captions, images, music, speech, video
from saas_app.services.renders.steps.base import KeptFile, Step
from saas_app.services.usage.metrics import METRICS, STORAGE

_MAX_NAME = 16  # RenderStep.name


def _check(step: Step) -> None:
    if not step.name or len(step.name) > _MAX_NAME or not step.name.replace("_", "").isalnum():
        raise ValueError(f"step name {step.name!r} must be 1-{_MAX_NAME} letters, digits or _")
    unknown = [m for m in step.charges if m not in METRICS]
    if unknown:
        raise ValueError(f"step {step.name!r} charges unknown metrics {unknown}; register them in METRICS")
    taken = {k.key for s in STEPS for k in s.keeps} | {k.filename for s in STEPS for k in s.keeps}
    clashes = [k.filename for k in step.keeps if k.key in taken or k.filename in taken]
    if clashes:
        raise ValueError(f"step {step.name!r} keeps files another step already keeps: {clashes}")


STEPS: Registry[Step] = Registry("step", check=_check)
STEPS.add(speech.STEP)
STEPS.add(images.STEP)
STEPS.add(captions.STEP)
STEPS.add(music.STEP)
STEPS.add(video.STEP)


def metrics_charged(step: Step) -> tuple[str, ...]:
    """The metrics a step is charged in: its own, plus storage when it keeps files."""
    return (*step.charges, STORAGE.name) if step.keeps else step.charges


def kept_files() -> list[KeptFile]:
    """Every file a render keeps once its steps are done, in step order."""
    return [kept for step in STEPS for kept in step.keeps]


def find_kept_file(key: str) -> KeptFile | None:
    """The kept file with this URL key (e.g. "video"), if a registered step keeps one."""
    return next((kept for kept in kept_files() if kept.key == key), None)
