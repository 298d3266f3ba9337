"""Runs a render's steps in order, metering each once, and ends the render cleanly.

Crash safety: a step is done when its row says so and its files exist; a retried job
skips done steps and redoes the rest, and `finish_render` re-publishes every ledger row of
the render (deduplicated), so a charge whose counter update was lost is still counted.
Whatever way a render ends (success, failure, cancel), its unused reservation is released.
"""

from __future__ import annotations

import json
import logging
import shutil

import redis
from sqlmodel import select

from saas_app.db import session_scope
from saas_app.models import Render, RenderStep, utcnow
from saas_app.services.usage import metering
from saas_app.services.usage import quotas
from saas_app.services.renders.steps import (
    STEP_FUNCS,
    RenderCanceled,
    RenderContext,
    StepError,
    artifacts_ok,
    attach_watchers,
)
from saas_app.services.renders.submission import STEPS, TERMINAL, publish_usage, render_dir

log = logging.getLogger(__name__)
GENERIC_FAILURE = "Something went wrong while making this video."


class RetryLater(Exception):
    """Raised to let the job runner retry the render (a transient failure with retries left)."""


def _context(render: Render) -> RenderContext:
    return RenderContext(
        render_id=render.id, tenant_id=render.tenant_id, user_id=render.user_id, topic=render.topic,
        scenes=json.loads(render.scenes_json), template=render.template, voice=render.voice,
        resolution=render.resolution, folder=render_dir(render.tenant_id, render.id),
    )


def _set_step(step_id: int, **values) -> None:
    with session_scope() as s:
        step = s.get(RenderStep, step_id)
        if step is not None:
            for key, value in values.items():
                setattr(step, key, value)
            s.add(step)


def _run_step(ctx: RenderContext, name: str) -> None:
    with session_scope() as s:
        step = s.exec(select(RenderStep).where(RenderStep.render_id == ctx.render_id,
                                               RenderStep.name == name)).one()
        step_id, done = step.id, step.status == "done"
    assert step_id is not None
    if done and artifacts_ok(ctx, name):
        return
    _set_step(step_id, status="running", progress=0.0, started_at=utcnow(), detail="")
    attach_watchers(ctx, step_id)
    result = STEP_FUNCS[name](ctx)
    with session_scope() as s:
        rows = metering.record_usage(session=s, tenant_id=ctx.tenant_id, user_id=ctx.user_id,
                                     render_id=ctx.render_id, step=name, amounts=result.amounts)
        step = s.get(RenderStep, step_id)
        render = s.get(Render, ctx.render_id)
        assert step is not None and render is not None
        step.status, step.progress, step.finished_at, step.detail = "done", 1.0, utcnow(), result.detail
        for key, value in result.render_updates.items():
            setattr(render, key, value)
        s.add_all([step, render])
        s.commit()
        publish_usage(session=s, rows=rows)


def _start(render_id: str) -> RenderContext | None:
    with session_scope() as s:
        render = s.get(Render, render_id)
        if render is None or render.deleted_at is not None or render.status in TERMINAL:
            return None
        render.status, render.attempts = "running", render.attempts + 1
        render.started_at = render.started_at or utcnow()
        s.add(render)
        return _context(render)


def run_render(*, render_id: str, retries_left: int) -> str:
    """Run (or resume) a render. Called by the RQ job.

    Args:
        render_id: The render to run.
        retries_left: How many more attempts the job runner will make after this one.

    Returns:
        The render's final status.

    Raises:
        RetryLater: A transient failure with retries left (the runner retries the job).
    """
    ctx = _start(render_id)
    if ctx is None:
        finish_render(render_id=render_id)
        return _status(render_id)
    try:
        for name in STEPS:
            _run_step(ctx, name)
    except RenderCanceled:
        log.info("render %s canceled", render_id)
    except Exception as exc:  # every failure ends as a plain message or a retry
        message = exc.message if isinstance(exc, StepError) else GENERIC_FAILURE
        transient = exc.transient if isinstance(exc, StepError) else True
        log.exception("render %s step failed (retries left: %s)", render_id, retries_left)
        if transient and retries_left > 0:
            _mark_retrying(render_id, message)
            raise RetryLater(message) from exc
        fail_render(render_id=render_id, message=message)
        return "failed"
    else:
        _mark(render_id, "succeeded")
    finish_render(render_id=render_id)
    return _status(render_id)


def _status(render_id: str) -> str:
    with session_scope() as s:
        render = s.get(Render, render_id)
        return render.status if render else "missing"


def _mark(render_id: str, status: str, error: str = "") -> None:
    with session_scope() as s:
        render = s.get(Render, render_id)
        if render is None or render.status in TERMINAL:
            return
        render.status, render.error, render.finished_at = status, error, utcnow()
        s.add(render)
        for step in s.exec(select(RenderStep).where(RenderStep.render_id == render_id)).all():
            if step.status in ("pending", "running"):
                step.status = "failed" if status == "failed" else "canceled"
                s.add(step)


def _mark_retrying(render_id: str, message: str) -> None:
    with session_scope() as s:
        render = s.get(Render, render_id)
        if render is not None and render.status not in TERMINAL:
            render.status, render.notes = "queued", f"Retrying after a problem: {message}"
            s.add(render)


def fail_render(*, render_id: str, message: str) -> None:
    """Mark a render failed with a plain message (unless it already ended) and clean up."""
    _mark(render_id, "failed", f"{message} Nothing more will be charged; please try again.")
    finish_render(render_id=render_id)


def finish_render(*, render_id: str) -> None:
    """For an ended render: make sure every ledger row is counted, drop work files, release the rest."""
    with session_scope() as s:
        render = s.get(Render, render_id)
        if render is None or render.status not in TERMINAL:
            return
        rows = metering.list_render_rows(session=s, render_id=render_id)
        publish_usage(session=s, rows=rows)
        tenant_id = render.tenant_id
        folder = render_dir(tenant_id, render_id)
    for partial in folder.glob("*.tmp.*"):
        partial.unlink(missing_ok=True)
    shutil.rmtree(folder / "work", ignore_errors=True)
    try:  # last, so a released reservation means the render is fully wound up
        quotas.release(tenant_id=tenant_id, render_id=render_id)
    except redis.RedisError as exc:
        log.warning("release of %s failed (%s); `make reconcile` restores the counters", render_id, exc)
