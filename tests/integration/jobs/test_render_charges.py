"""What a canceled render is charged (`services/renders/charging.py`): only the steps it finished
before the cancel; a step that ends after the cancel, the video above all, is never charged and
leaves no file behind. Cancels at each step by a real worker, and a cancel that lands after a
step's last cancel check, in process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from factories import CTX
from render_jobs import (
    WorkerHandle,
    assert_counters_match_ledger,
    assert_reservation_released,
    fake_ffmpeg,
    load_render,
    load_steps,
    step_metrics,
    submit,
    wait_terminal,
    wait_until,
    wait_wound_up,
)
from sqlmodel import Session, select

from saas_app.db import get_engine
from saas_app.models import Render, RenderStep
from saas_app.services.auth.sessions import Principal
from saas_app.services.core.errors import Conflict
from saas_app.services.core.storage import Area, get_store
from saas_app.services.renders import pipeline
from saas_app.services.renders import submission as renders
from saas_app.services.renders.files import render_dir, render_key
from saas_app.services.renders.status import RenderStatus, StepStatus
from saas_app.services.renders.steps.base import KeptFile, RenderContext, Step, StepResult
from saas_app.services.renders.steps.registry import STEPS, metrics_charged
from saas_app.services.usage.metrics import IMAGES, STORAGE

pytestmark = pytest.mark.db

LONG = ("This narration goes on about rocks, rivers and the slow work of time, long enough for a cancel "
        "to land while the step still runs. ") * 2


def _charges_of(names: list[str]) -> list[tuple[str, str]]:
    return sorted((name, metric) for name in names for metric in metrics_charged(STEPS.get(name)))


def _assert_charged_only_for_finished_steps(rc: redis.Redis, render_id: str, worker: WorkerHandle) -> None:
    render = wait_until(lambda: (r := load_render(render_id)).status == RenderStatus.CANCELED and r, 30,
                        "canceled", worker)
    wait_wound_up(rc, render_id, worker)
    wait_until(lambda: all(s.status != StepStatus.RUNNING for s in load_steps(render_id).values()), 30,
               "no step left running", worker)
    finished = [name for name, step in load_steps(render_id).items() if step.status == StepStatus.DONE]
    assert "video" not in finished
    assert sorted(step_metrics(render_id)) == _charges_of(finished)
    assert not any(metric == "render_minutes" for _, metric in step_metrics(render_id))
    assert not any(name == "video" for name, _ in step_metrics(render_id))  # nor any storage for a video
    assert not list(render_dir(render.tenant_id, render_id).glob("video*"))
    assert_counters_match_ledger(rc, render.tenant_id, render.period)  # type: ignore[attr-defined]
    assert_reservation_released(rc, render.tenant_id, render_id)  # type: ignore[attr-defined]


@pytest.mark.parametrize("step", ["speech", "images", "video"])
def test_a_cancel_at_each_step_charges_only_the_steps_done_before_it(
    step: str, session: Session, principal: Principal, start_render_worker: Callable[..., WorkerHandle],
    redis_client: redis.Redis, tmp_path: Path,
) -> None:
    realtime = fake_ffmpeg(tmp_path, "realtime-ffmpeg", realtime=True)  # the encode lasts as long as the video
    worker = start_render_worker(FFMPEG_BINARY=str(realtime))
    render_id = submit(session, principal, scenes=[LONG] * 12)
    wait_until(lambda: load_steps(render_id)[step].status == StepStatus.RUNNING, 120, f"{step} to run", worker)

    renders.cancel_render(session=session, principal=principal, render_id=render_id, ctx=CTX)

    _assert_charged_only_for_finished_steps(redis_client, render_id, worker)
    before = STEPS.names()[:STEPS.names().index(step)]
    assert all(load_steps(render_id)[name].status == StepStatus.DONE for name in before)
    assert load_steps(render_id)[step].status == StepStatus.CANCELED


# A cancel that lands after a step's last look at it: the step finishes, and is still not charged.

LATE = KeptFile("late", "late.txt", "text/plain")


@pytest.fixture
def late_step(session: Session, principal: Principal) -> Iterator[Step]:
    """A last step that keeps a file and is charged an image; the user cancels just as it finishes."""
    def run(ctx: RenderContext) -> StepResult:
        (ctx.folder / LATE.filename).write_text("made after all")
        with Session(get_engine()) as other:
            renders.cancel_render(session=other, principal=principal, render_id=ctx.render_id, ctx=CTX)
        return StepResult({IMAGES.name: 1.0}, detail="made")

    step = Step("late", "Late", run, charges=(IMAGES.name,), keeps=(LATE,),
                estimate=lambda _r: {IMAGES.name: 1.0, STORAGE.name: 0.01})
    with STEPS.extended(step):
        yield step


def test_a_step_that_finishes_after_the_cancel_is_not_charged_and_keeps_nothing(
    session: Session, principal: Principal, late_step: Step, redis_client: redis.Redis,
) -> None:
    render_id = submit(session, principal, scenes=["One short scene."])

    assert pipeline.run_render(render_id=render_id, retries_left=0) == RenderStatus.CANCELED

    render = wait_terminal(render_id)
    steps = load_steps(render_id)
    assert steps["late"].status == StepStatus.CANCELED and steps["video"].status == StepStatus.DONE
    charged = step_metrics(render_id)
    assert not [pair for pair in charged if pair[0] == "late"], charged
    assert sorted(charged) == _charges_of([n for n in STEPS.names() if n != "late"])
    assert get_store(Area.RENDERS).size(key=render_key(render.tenant_id, render_id, LATE.filename)) is None
    assert not (render_dir(render.tenant_id, render_id) / LATE.filename).exists()
    assert_counters_match_ledger(redis_client, render.tenant_id, render.period)
    assert_reservation_released(redis_client, render.tenant_id, render_id)


def test_a_render_whose_steps_are_all_done_is_not_canceled_any_more(session: Session, principal: Principal) -> None:
    render_id = submit(session, principal, scenes=["One short scene."])
    with Session(get_engine()) as other:  # as the worker leaves it between its last charge and "succeeded"
        render = other.get(Render, render_id)
        assert render is not None
        render.status = RenderStatus.RUNNING
        for step in other.exec(select(RenderStep).where(RenderStep.render_id == render_id)).all():
            step.status = StepStatus.DONE
            other.add(step)
        other.add(render)
        other.commit()

    with pytest.raises(Conflict, match="already made"):
        renders.cancel_render(session=session, principal=principal, render_id=render_id, ctx=CTX)

    assert load_render(render_id).status == RenderStatus.RUNNING  # the worker marks it succeeded next
    assert all(step.status == StepStatus.DONE for step in load_steps(render_id).values())
