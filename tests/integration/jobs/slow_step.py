"""A slow render step plugged in through the step registry, for deletion-while-running tests.

It runs after the product's steps (so the video, the ledger rows, the usage log and the
counters already exist), charges one image, and holds until a release file appears. Started
with ``python -m slow_step`` (this folder on PYTHONPATH), a worker registers it and then runs
the product's worker. `HONOURS_CANCEL` (an environment variable) chooses whether it also stops
when `ctx.canceled()` says so; if it is ever released it writes one more file and charges.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from saas_app.services.renders.steps.base import RenderCanceled, RenderContext, Step, StepResult
from saas_app.services.renders.steps.registry import STEPS
from saas_app.services.usage.metrics import IMAGES

if TYPE_CHECKING:
    from saas_app.services.renders.input import RenderInput

RELEASE_ENV = "SLOW_STEP_RELEASE_FILE"
HONOURS_CANCEL_ENV = "SLOW_STEP_HONOURS_CANCEL"
LATE_FILE = "late.txt"


def _estimate(_request: RenderInput) -> dict[str, float]:
    return {IMAGES.name: 1.0}


def _run(ctx: RenderContext) -> StepResult:
    release = Path(os.environ[RELEASE_ENV])
    honours_cancel = os.environ.get(HONOURS_CANCEL_ENV) == "1"
    while not release.exists():  # held until released, stopped, or (if it honours it) canceled
        if honours_cancel and ctx.canceled():
            raise RenderCanceled()
        ctx.report(0.5)
        time.sleep(0.05)
    (ctx.folder / LATE_FILE).write_text("written after the hold")
    return StepResult({IMAGES.name: 1.0}, detail="held")


STEP = Step("hold", "Slow hold", _run, charges=(IMAGES.name,), estimate=_estimate)


@contextmanager
def registered() -> Iterator[None]:
    """The slow step is registered (after the product's steps) for the duration of the block."""
    with STEPS.extended(STEP):
        yield


def main() -> None:
    """A worker that knows the slow step: register it, then run the product's worker."""
    from saas_app.jobs import worker

    STEPS.add(STEP)
    worker.main()


if __name__ == "__main__":
    main()
