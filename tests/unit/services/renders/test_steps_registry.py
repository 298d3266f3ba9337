"""The step registry refuses a step that would charge unknown metrics or keep another step's files."""

from __future__ import annotations

import pytest

from saas_app.services.renders.steps.base import KeptFile, RenderContext, Step, StepResult
from saas_app.services.renders.steps.registry import STEPS, find_kept_file, kept_files, metrics_charged
from saas_app.services.usage.metrics import IMAGES, STORAGE


def _run(_ctx: RenderContext) -> StepResult:
    return StepResult({})


def _step(name: str = "extra", charges: tuple[str, ...] = (IMAGES.name,), keeps: tuple[KeptFile, ...] = ()) -> Step:
    return Step(name, "Extra", _run, charges=charges, estimate=lambda _request: {}, keeps=keeps)


@pytest.mark.parametrize(("step", "reason"), [
    (_step(charges=("gif_frames",)), "unknown metrics"),
    (_step(name="a-very-long-step-name"), "letters, digits"),
    (_step(name="bad name"), "letters, digits"),
    (_step(keeps=(KeptFile("clip", kept_files()[0].filename, "video/mp4"),)), "already keeps"),
    (_step(keeps=(KeptFile(kept_files()[0].key, "other.mp4", "video/mp4"),)), "already keeps"),
])
def test_a_step_that_does_not_fit_is_refused(step: Step, reason: str) -> None:
    before = STEPS.names()
    with pytest.raises(ValueError, match=reason):
        STEPS.add(step)
    assert STEPS.names() == before


def test_a_step_keeping_files_is_charged_their_storage_and_serves_them() -> None:
    gif = KeptFile("gif", "preview.gif", "image/gif")
    step = _step(keeps=(gif,))
    assert metrics_charged(step) == (IMAGES.name, STORAGE.name) and metrics_charged(_step()) == (IMAGES.name,)
    with STEPS.extended(step):
        assert find_kept_file("gif") == gif and kept_files()[-1] == gif
    assert find_kept_file("gif") is None
