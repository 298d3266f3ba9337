"""Renders: submit (guard, admit, queue), read, cancel, delete. Always scoped to a tenant."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from pathlib import Path

import redis
from rq import Callback, Retry
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Job
from sqlmodel import Session, col, func, select

from saas_app.models import Render, RenderStep, utcnow
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.assets.library import resolve_render_assets
from saas_app.services.auth.sessions import Principal
from saas_app.services.core import observability, queue
from saas_app.services.core.errors import Conflict, InsufficientStorage, NotFound, ServiceUnavailable
from saas_app.services.renders import charging
from saas_app.services.renders.changes import note_render_change
from saas_app.services.renders.files import delete_render_files
from saas_app.services.renders.input import RenderInput, estimate_usage
from saas_app.services.renders.status import RenderStatus, StepStatus
from saas_app.services.renders.steps.registry import STEPS
from saas_app.services.teams.permissions import Action, require
from saas_app.services.usage import ledger, quotas
from saas_app.services.usage.entitlements import require_feature
from saas_app.services.usage.metering import publish_usage
from saas_app.services.usage.metrics import STORAGE
from saas_app.settings import get_settings

log = logging.getLogger(__name__)


def _check_disk() -> None:
    """Refuse new renders while the disk that keeps render files is nearly full (local backend only:
    with S3 the files are made on the workers' disks and kept in the store)."""
    settings = get_settings()
    if settings.STORAGE_BACKEND != "local":
        return
    root = Path(settings.STORAGE_DIR)
    root.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(root).free < settings.MIN_FREE_DISK_MB * 1024 * 1024:
        raise InsufficientStorage("The server is low on disk space, so new renders are paused. "
                                  "Please try again later.")


def _enqueue(render: Render) -> bool:
    """Queue the render's job unless it exists (unique id, checked atomically by RQ).

    Returns:
        False when the job was already there (queued by a recovery pass at the same time).
    """
    settings = get_settings()
    delays = [int(x) for x in settings.RENDER_RETRY_DELAYS.split(",") if x.strip()]
    retry = Retry(max=settings.RENDER_MAX_RETRIES, interval=delays) if settings.RENDER_MAX_RETRIES else None
    try:
        queue.get_queue(queue.RENDERS).enqueue(
            queue.RENDER_JOB, args=(render.id, render.tenant_id, render.user_id),
            job_id=queue.render_job_id(render.id), job_timeout=settings.RENDER_JOB_TIMEOUT_SECONDS,
            result_ttl=86400, failure_ttl=7 * 86400, retry=retry,
            on_failure=Callback(queue.RENDER_FAILURE_CALLBACK), description=f"render {render.id}",
            meta={"tenant_id": render.tenant_id, "user_id": render.user_id}, unique=True,
        )
    except DuplicateJobError:
        return False
    return True


def create_render(*, session: Session, principal: Principal, request: RenderInput, ctx: RequestContext) -> Render:
    """Admit a render against the tenant's quota and queue it.

    The render row is committed before the job is queued so the worker always finds it.

    Raises:
        PlanRequired: A premium option on a plan without it (402).
        InvalidInput: An image or music id not in the workspace's library (422).
        QuotaExceeded: Over quota (402). RateLimited: concurrency or queue full (429).
        InsufficientStorage: Low disk (507). ServiceUnavailable: Redis down (503).
    """
    require(principal, Action.RENDER_CREATE)
    require_feature(plan_id=principal.plan, resolution=request.resolution, template=request.template)
    scenes, options = resolve_render_assets(session=session, tenant_id=principal.tenant_id, request=request)
    _check_disk()
    estimate = estimate_usage(request)
    render = Render(
        tenant_id=principal.tenant_id, user_id=principal.user_id, topic=request.topic,
        scenes_json=json.dumps(scenes), template=request.template,
        voice=request.voice, resolution=request.resolution, options_json=json.dumps(options),
        estimate_json=json.dumps(estimate),
        period=ledger.period_of(),
    )
    session.add(render)
    for position, name in enumerate(STEPS.names()):
        session.add(RenderStep(render_id=render.id, tenant_id=render.tenant_id, name=name, position=position))
    quotas.admit(session=session, tenant_id=principal.tenant_id, plan_id=principal.plan, render_id=render.id,
                 estimate=estimate)
    try:
        record_event(session=session, action="render.created", ctx=ctx, tenant_id=principal.tenant_id,
                     user_id=principal.user_id, actor=principal.actor_name, target=render.id)
        session.commit()
        _enqueue(render)
        note_render_change(render.tenant_id)
    except redis.RedisError as exc:
        render.status, render.finished_at = RenderStatus.FAILED, utcnow()
        render.error = "Could not be queued; nothing was charged."
        session.add(render)
        session.commit()
        _release_quietly(render)
        raise ServiceUnavailable(quotas.REDIS_DOWN, retry_after=10) from exc
    except Exception:
        session.rollback()
        _release_quietly(render)
        raise
    return render


def _release_quietly(render: Render) -> None:
    try:
        quotas.release(tenant_id=render.tenant_id, render_id=render.id)
    except redis.RedisError as exc:  # `make reconcile` or the next rebuild fixes the counters
        log.warning("could not release reservation of %s: %s", render.id, exc)


def get_render_or_raise(*, session: Session, tenant_id: str, render_id: str) -> Render:
    """One render of this tenant; another tenant's (or a deleted) render is NotFound."""
    render = session.get(Render, render_id) if render_id and len(render_id) <= 32 else None
    if render is None or render.tenant_id != tenant_id or render.deleted_at is not None:
        raise NotFound("We couldn't find that video.")
    return render


def list_steps(*, session: Session, render_id: str) -> list[RenderStep]:
    """A render's steps in pipeline order."""
    return list(session.exec(select(RenderStep).where(RenderStep.render_id == render_id)
                             .order_by(col(RenderStep.position))).all())


def list_renders(*, session: Session, tenant_id: str, limit: int = 12, offset: int = 0) -> tuple[list[Render], int]:
    """This tenant's renders, newest first, and how many there are."""
    where = (Render.tenant_id == tenant_id, col(Render.deleted_at).is_(None))
    rows = session.exec(select(Render).where(*where).order_by(col(Render.created_at).desc(), col(Render.id))
                        .offset(offset).limit(limit)).all()
    total = session.exec(select(func.count()).select_from(Render).where(*where)).one()
    return list(rows), int(total)


def cancel_render(*, session: Session, principal: Principal, render_id: str, ctx: RequestContext) -> Render:
    """Cancel a queued or running render; the worker stops at its next check.

    Raises:
        NotFound: Not this tenant's render. Conflict: already finished.
    """
    require(principal, Action.RENDER_CREATE)
    render = get_render_or_raise(session=session, tenant_id=principal.tenant_id, render_id=render_id)
    charging.lock_render(session=session, render_id=render.id)  # against a step being charged right now
    session.refresh(render)
    if render.status in RenderStatus.TERMINAL:
        raise Conflict(f"This render has already {render.status}.")
    steps = list_steps(session=session, render_id=render.id)
    if steps and all(step.status == StepStatus.DONE for step in steps):
        session.rollback()
        raise Conflict("This video is already made; it is being saved.")
    was_queued = render.status == RenderStatus.QUEUED
    render.status, render.finished_at, render.error = RenderStatus.CANCELED, utcnow(), ""
    session.add(render)
    for step in steps:
        if step.status in StepStatus.ACTIVE:
            step.status = StepStatus.CANCELED
            session.add(step)
    record_event(session=session, action="render.canceled", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=render.id)
    session.commit()
    observability.count_render(RenderStatus.CANCELED)
    try:
        Job.fetch(queue.render_job_id(render.id), connection=queue.get_rq_connection()).cancel()
    except (NoSuchJobError, InvalidJobOperation, redis.RedisError) as exc:
        log.info("cancel of job for %s: %s", render.id, exc)
    if was_queued:  # a running job releases when it stops, after its last charge
        _release_quietly(render)
    note_render_change(render.tenant_id)
    return render


def delete_render(*, session: Session, principal: Principal, render_id: str, ctx: RequestContext) -> None:
    """Delete a render's files and lower the tenant's storage gauge (an unfinished one is canceled first).

    Raises:
        NotFound: Not this tenant's render.
        StorageUnavailable: The files could not be deleted (nothing recorded; try again).
    """
    require(principal, Action.RENDER_CREATE)
    render = get_render_or_raise(session=session, tenant_id=principal.tenant_id, render_id=render_id)
    if render.status not in RenderStatus.TERMINAL:
        with contextlib.suppress(Conflict):  # ended meanwhile, or every step is done: deleted all the same
            render = cancel_render(session=session, principal=principal, render_id=render_id, ctx=ctx)
    delete_render_files(tenant_id=render.tenant_id, render_id=render.id)
    stored = sum(r.amount for r in ledger.list_render_rows(session=session, render_id=render.id)
                 if r.metric == STORAGE.name)
    rows = ledger.record_usage(session=session, tenant_id=render.tenant_id, user_id=principal.user_id,
                               render_id=render.id, step="delete", amounts={STORAGE.name: -stored}) if stored else []
    render.deleted_at = utcnow()
    session.add(render)
    record_event(session=session, action="render.deleted", ctx=ctx, tenant_id=principal.tenant_id,
                 user_id=principal.user_id, actor=principal.actor_name, target=render.id)
    session.commit()
    publish_usage(session=session, rows=rows)
    note_render_change(render.tenant_id)


def requeue_orphaned_renders(*, session: Session) -> int:
    """Queue again every unfinished render whose job is gone (e.g. Redis lost its data).

    Returns:
        How many renders were queued again.
    """
    requeued = 0
    connection = queue.get_rq_connection()
    for render in session.exec(select(Render).where(col(Render.status).in_(list(RenderStatus.ACTIVE)),
                                                    col(Render.deleted_at).is_(None))).all():
        try:
            Job.fetch(queue.render_job_id(render.id), connection=connection)
        except NoSuchJobError:
            requeued += _enqueue(render)
    return requeued
