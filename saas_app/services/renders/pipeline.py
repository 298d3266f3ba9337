"""Runs a render's steps in order, metering each once, and ends the render cleanly.

The steps are the render's own step rows (made at submission from `steps.registry.STEPS`),
each run by the registered `Step` of that name. Crash safety: a step is done when its row
says so and its files exist; a retried job skips done steps and redoes the rest, and
`finish_render` re-publishes every ledger row of the render (deduplicated), so a charge
whose counter update was lost is still counted. Whatever way a render ends (success,
failure, cancel), its unused reservation is released.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis
from sqlmodel import Session, col, select

from saas_app.db import session_scope
from saas_app.models import Render, RenderStep, utcnow
from saas_app.services.account import purge_fence
from saas_app.services.core import logs, observability
from saas_app.services.renders import charging, files, reservation
from saas_app.services.renders.changes import note_render_change
from saas_app.services.renders.files import kept_bytes, render_dir
from saas_app.services.renders.status import RenderStatus, StepStatus
from saas_app.services.renders.steps.base import RenderCanceled, RenderContext, Step, StepError, StepResult
from saas_app.services.renders.steps.registry import STEPS
from saas_app.services.usage import ledger, quotas
from saas_app.services.usage.metering import publish_usage, storage_mb
from saas_app.services.usage.metrics import STORAGE
from saas_app.settings import get_settings

log = logging.getLogger(__name__)
GENERIC_FAILURE = "Something went wrong while making this video."
WATCH_SECONDS = 0.3  # progress writes and cancel checks happen at most this often


class RetryLater(Exception):
    """Raised to let the job runner retry the render (a transient failure with retries left)."""


class TenantPurged(Exception):
    """The tenant's deletion is due: the render stops and writes nothing more (`purge_fence`)."""


def _check_purge_fence(tenant_id: str, session: Session | None = None) -> None:
    """Raise `TenantPurged` when nothing more may be written for the tenant (called before each write)."""
    if session is not None:
        if purge_fence.is_fenced(session=session, tenant_id=tenant_id):
            raise TenantPurged()
        return
    with session_scope() as s:
        _check_purge_fence(tenant_id, s)


def _context(render: Render) -> RenderContext:
    return RenderContext(
        render_id=render.id, tenant_id=render.tenant_id, user_id=render.user_id, topic=render.topic,
        scenes=json.loads(render.scenes_json), template=render.template, voice=render.voice,
        resolution=render.resolution, folder=render_dir(render.tenant_id, render.id),
        reserved=json.loads(render.estimate_json or "{}"),
        options=json.loads(render.options_json or "{}"),
    )


def _set_step(step_id: int, **values: Any) -> None:
    with session_scope() as s:
        step = s.get(RenderStep, step_id)
        if step is not None:
            for key, value in values.items():
                setattr(step, key, value)
            s.add(step)


def _watch(ctx: RenderContext, step_id: int, step: Step) -> None:
    """Give the context a progress reporter and a cancel check that touch the database sparingly.
    Both stop the step (a transient `StepError`) once it has run for `RENDER_STEP_TIMEOUT_SECONDS`."""
    state = {"reported": 0.0, "checked": 0.0, "stop": False}
    timeout = get_settings().RENDER_STEP_TIMEOUT_SECONDS
    deadline = time.monotonic() + timeout

    def report(progress: float) -> None:
        now = _check_deadline(deadline, step, timeout)
        if now - state["reported"] >= WATCH_SECONDS or progress >= 1:
            state["reported"] = now
            _set_step(step_id, progress=round(progress, 3))
            note_render_change(ctx.tenant_id)

    def canceled() -> bool:
        now = _check_deadline(deadline, step, timeout)
        if not state["stop"] and now - state["checked"] >= WATCH_SECONDS:
            state["checked"] = now
            with session_scope() as s:
                render = s.get(Render, ctx.render_id)
                state["stop"] = (render is None or render.status == RenderStatus.CANCELED
                                 or render.deleted_at is not None
                                 or purge_fence.is_fenced(session=s, tenant_id=ctx.tenant_id))
        return bool(state["stop"])

    ctx.report, ctx.canceled = report, canceled


def _check_deadline(deadline: float, step: Step, timeout: int) -> float:
    now = time.monotonic()
    if now > deadline:
        raise StepError(f"The {step.label.lower()} step did not finish within {timeout} seconds and was stopped.",
                        transient=True)
    return now


def _charge(ctx: RenderContext, step: Step, step_id: int, result: StepResult) -> None:
    """Record a finished step's charges, mark it done and publish the charges (each exactly once).

    A render that ended meanwhile is not charged for the step (`charging.claim_step_charge`). A
    charge never exceeds what the render's reservation has left (`reservation`): a step that used
    more is charged the rest and the render stops with a plain message.

    Raises:
        RenderCanceled: The render ended while the step ran; what the step kept is deleted.
        StepError: The step used more than the reservation had left (charged the rest).
    """
    amounts, size_bytes = result.amounts, None
    if step.keeps:  # what a step keeps is charged as storage, by the size it takes
        amounts = {**amounts, STORAGE.name: storage_mb(kept_bytes(ctx.folder, step.keeps))}
        size_bytes = files.stored_bytes(tenant_id=ctx.tenant_id, render_id=ctx.render_id)
    with session_scope() as s:
        if not charging.claim_step_charge(session=s, render_id=ctx.render_id, step_id=step_id,
                                          detail=result.detail):  # first: it writes, taking the render's row
            s.rollback()
            files.delete_kept_files(tenant_id=ctx.tenant_id, render_id=ctx.render_id, kept=step.keeps)
            raise RenderCanceled()
        _check_purge_fence(ctx.tenant_id, s)
        render = s.get(Render, ctx.render_id)
        assert render is not None
        amounts, over = reservation.cap_to_reservation(session=s, render=render, step=step.name, amounts=amounts)
        rows = ledger.record_usage(session=s, tenant_id=ctx.tenant_id, user_id=ctx.user_id,
                                   render_id=ctx.render_id, step=step.name, amounts=amounts)
        for key, value in result.render_updates.items():
            setattr(render, key, value)
        if size_bytes is not None:
            render.size_bytes = size_bytes
        s.add(render)
        s.commit()
        publish_usage(session=s, rows=rows)
    note_render_change(ctx.tenant_id)
    if over:  # charged what the reservation had left; nothing more runs
        raise StepError(reservation.over_reservation_message(over), transient=False)


def _done(ctx: RenderContext, step: Step) -> bool:
    """A step marked done can be skipped when its work files are on this machine (a job resumed by
    another worker makes them again) and its kept files are in the store."""
    return all(p.exists() for p in step.work_files(ctx)) and files.kept_files_stored(
        tenant_id=ctx.tenant_id, render_id=ctx.render_id, kept=step.keeps)


def _run_step(ctx: RenderContext, step_id: int, name: str, status: str) -> None:
    step = STEPS.find(name)
    if step is None:
        raise StepError(f"This server has no '{name}' step.", transient=False)
    if status == StepStatus.DONE and _done(ctx, step):
        return
    _check_purge_fence(ctx.tenant_id)
    _set_step(step_id, status=StepStatus.RUNNING, progress=0.0, started_at=utcnow(), detail="")
    note_render_change(ctx.tenant_id)
    _watch(ctx, step_id, step)
    with logs.step_span(render_id=ctx.render_id, step=step.name, canceled=RenderCanceled):
        result = step.run(ctx)
        _check_purge_fence(ctx.tenant_id)
        files.store_kept_files(tenant_id=ctx.tenant_id, render_id=ctx.render_id, kept=step.keeps)
    _charge(ctx, step, step_id, result)


def _start(render_id: str) -> tuple[RenderContext, list[tuple[int, str, str]]] | None:
    """Mark the render running; its context and its steps (id, name, status) in order."""
    with session_scope() as s:
        render = s.get(Render, render_id)
        if render is None or render.deleted_at is not None or render.status in RenderStatus.TERMINAL:
            return None
        _check_purge_fence(render.tenant_id, s)
        render.status, render.attempts = RenderStatus.RUNNING, render.attempts + 1
        render.started_at = render.started_at or utcnow()
        s.add(render)
        rows = s.exec(select(RenderStep.id, RenderStep.name, RenderStep.status)
                      .where(RenderStep.render_id == render_id).order_by(col(RenderStep.position))).all()
        started = _context(render), [(int(i or 0), name, status) for i, name, status in rows]
    note_render_change(started[0].tenant_id)
    return started


def run_render(*, render_id: str, retries_left: int) -> str:
    """Run (or resume) a render. Called by the RQ job.

    Args:
        render_id: The render to run.
        retries_left: How many more attempts the job runner will make after this one.

    Returns:
        The render's final status.

    Raises:
        RetryLater: A transient failure with retries left (the runner retries the job).

    A render whose workspace is being deleted stops at its next write and writes nothing more
    (`purge_fence`); it then answers "canceled".
    """
    try:
        return _run(render_id, retries_left)
    except TenantPurged:
        log.info("render %s stopped without writing more: its workspace is being deleted", render_id)
        return RenderStatus.CANCELED


def _run(render_id: str, retries_left: int) -> str:
    started = _start(render_id)
    if started is None:
        finish_render(render_id=render_id)
        return _status(render_id)
    ctx, rows = started
    try:
        for step_id, name, status in rows:
            _run_step(ctx, step_id, name, status)
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
        return RenderStatus.FAILED
    else:
        _mark(render_id, RenderStatus.SUCCEEDED)
    finish_render(render_id=render_id)
    return _status(render_id)


def _status(render_id: str) -> str:
    with session_scope() as s:
        render = s.get(Render, render_id)
        return render.status if render else "missing"


def _mark(render_id: str, status: RenderStatus, error: str = "") -> None:
    with session_scope() as s:
        render = s.get(Render, render_id)
        if render is None or render.status in RenderStatus.TERMINAL:
            return
        render.status, render.error, render.finished_at = status, error, utcnow()
        s.add(render)
        observability.count_render(status)
        ended = StepStatus.FAILED if status == RenderStatus.FAILED else StepStatus.CANCELED
        for step in s.exec(select(RenderStep).where(RenderStep.render_id == render_id)).all():
            if step.status in StepStatus.ACTIVE:
                step.status = ended
                s.add(step)


def _mark_retrying(render_id: str, message: str) -> None:
    with session_scope() as s:
        render = s.get(Render, render_id)
        if render is not None and render.status not in RenderStatus.TERMINAL:
            render.status, render.notes = RenderStatus.QUEUED, f"Retrying after a problem: {message}"
            s.add(render)
            tenant_id = render.tenant_id
        else:
            return
    note_render_change(tenant_id)


def fail_render(*, render_id: str, message: str) -> None:
    """Mark a render failed with a plain message (unless it already ended) and clean up."""
    _mark(render_id, RenderStatus.FAILED, f"{message} Nothing more will be charged; please try again.")
    finish_render(render_id=render_id)


def finish_render(*, render_id: str) -> None:
    """For an ended render: make sure every ledger row is counted, drop work files, release the rest."""
    with session_scope() as s:
        render = s.get(Render, render_id)
        if render is None or render.status not in RenderStatus.TERMINAL:
            return
        if purge_fence.is_fenced(session=s, tenant_id=render.tenant_id):
            return  # the purge removes what the render left; nothing may be counted or logged again
        publish_usage(session=s, rows=ledger.list_render_rows(session=s, render_id=render_id))
        tenant_id = render.tenant_id
    files.drop_work_files(tenant_id=tenant_id, render_id=render_id)
    note_render_change(tenant_id)
    try:  # last, so a released reservation means the render is fully wound up
        quotas.release(tenant_id=tenant_id, render_id=render_id)
    except redis.RedisError as exc:
        log.warning("release of %s failed (%s); `make reconcile` restores the counters", render_id, exc)
