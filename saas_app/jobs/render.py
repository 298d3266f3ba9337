"""RQ adapters for renders: thin wrappers that call the pipeline service."""

from __future__ import annotations

import logging
from resource import struct_rusage
from types import TracebackType

import redis
from rq import get_current_job
from rq.job import Job

from saas_app.services.core import logs, queue
from saas_app.services.renders import pipeline

log = logging.getLogger(__name__)


def run_render_job(render_id: str, tenant_id: str, user_id: str) -> str:
    """Run one render (`queue.RENDER_JOB`, job id `queue.render_job_id`); RQ retries it on `RetryLater`.

    Args:
        render_id: The render to run.
        tenant_id: Its tenant (recorded on the job for operators).
        user_id: Who asked for it.

    Returns:
        The render's final status.
    """
    job = get_current_job()
    logs.bind(request_id=str(job.meta.get("request_id", "")) if job else "", tenant_id=tenant_id, user=user_id,
              job_id=job.id if job else "")
    retries_left = (job.retries_left or 0) if job else 0
    log.info("render %s for tenant %s by %s (retries left %s)", render_id, tenant_id, user_id, retries_left)
    return pipeline.run_render(render_id=render_id, retries_left=retries_left)


def on_render_failure(job: Job, connection: redis.Redis, exc_type: type[BaseException] | None,
                      exc_value: BaseException | None, tb: TracebackType | None) -> None:
    """RQ failure callback: once no retry is left, the render ends as failed."""
    if not job.should_retry:
        message = str(exc_value) if isinstance(exc_value, pipeline.RetryLater) else pipeline.GENERIC_FAILURE
        pipeline.fail_render(render_id=str(job.args[0]), message=message)


def on_work_horse_killed(job: Job, retpid: int, ret_val: int, rusage: struct_rusage) -> None:
    """Worker hook: a killed work-horse with no retry left ends the render as failed."""
    if job.func_name == queue.RENDER_JOB and not job.should_retry:
        pipeline.fail_render(render_id=str(job.args[0]), message="The render worker stopped unexpectedly.")
