"""RQ: the queues, the job functions by reference, and every job id. Nothing else spells them.

Services queue jobs by the dotted names below (they never import `jobs/`); the job adapters
in `saas_app/jobs/` are those functions, and a test checks each name imports. Every queue
and worker uses the JSON serializer.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from redis import Redis
from rq import Queue
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from saas_app.services.core import logs
from saas_app.settings import get_settings

RENDERS = "renders"
DEFAULT = "default"
QUEUE_NAMES = [RENDERS, DEFAULT]  # workers listen to these, in priority order

# The job functions (module-level, simple arguments), by the name RQ imports them with.
RENDER_JOB = "saas_app.jobs.render.run_render_job"
RENDER_FAILURE_CALLBACK = "saas_app.jobs.render.on_render_failure"
EXPORT_JOB = "saas_app.jobs.account.build_export_job"
PURGE_JOB = "saas_app.jobs.account.purge_tenant_job"
USER_PURGE_JOB = "saas_app.jobs.account.purge_user_job"
MAINTENANCE_JOB = "saas_app.jobs.maintenance.run_maintenance"


def render_job_id(render_id: str) -> str:
    """The deterministic job id of a render (RQ allows only letters, digits, `_` and `-`)."""
    return f"render-{render_id}"


def export_job_id(export_id: str) -> str:
    """The job that builds one data export."""
    return f"export-{export_id}"


def purge_job_id(tenant_id: str) -> str:
    """The scheduled purge job of a tenant."""
    return f"purge-{tenant_id}"


def user_purge_job_id(user_id: str) -> str:
    """The scheduled purge job of one person's account."""
    return f"purge-user-{user_id}"


@functools.lru_cache(maxsize=4)
def _connection_for(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=2)


def get_rq_connection() -> Redis:
    """The bytes-mode Redis client for RQ (RQ does not accept decode_responses); pooled per URL."""
    return _connection_for(get_settings().REDIS_URL)


class TracedQueue(Queue):
    """An RQ queue whose jobs carry the id of the request that queued them (`meta["request_id"]`)."""

    def create_job(self, *args: Any, **kwargs: Any) -> Job:
        kwargs["meta"] = {**logs.job_meta(), **(kwargs.get("meta") or {})}
        return super().create_job(*args, **kwargs)


def get_queue(name: str = DEFAULT) -> Queue:
    """The named queue, with the JSON serializer."""
    return TracedQueue(name, connection=get_rq_connection(), serializer=JSONSerializer)


def delete_jobs(job_ids: Iterable[str], *, keep: str | None = None) -> int:
    """Delete jobs by id (missing ones are skipped), except `keep` (e.g. the job doing this).

    Returns:
        How many jobs were deleted.
    """
    connection, deleted = get_rq_connection(), 0
    for job_id in job_ids:
        if job_id == keep:
            continue
        try:
            Job.fetch(job_id, connection=connection).delete()
            deleted += 1
        except NoSuchJobError:
            pass
    return deleted


def _executing(job: Job) -> bool:
    try:
        return job.get_status(refresh=True) == JobStatus.STARTED
    except (NoSuchJobError, InvalidJobOperation):
        return False


def stop_jobs(job_ids: Iterable[str], *, timeout: float) -> list[str]:
    """Stop the jobs a worker is running among `job_ids` (RQ's stop-job command kills the
    work-horse) and wait until none of them is executing.

    Args:
        job_ids: Job ids; ones that are missing, queued or ended are skipped.
        timeout: Seconds to wait for the work-horses to end.

    Returns:
        The ids still executing when the time ran out (empty when every one stopped).
    """
    connection, running = get_rq_connection(), []
    for job_id in job_ids:
        try:
            job = Job.fetch(job_id, connection=connection)
            if _executing(job):
                send_stop_job_command(connection, job_id)
                running.append(job)
        except (NoSuchJobError, InvalidJobOperation):
            continue  # gone, or ended between the two reads
    deadline = time.monotonic() + timeout
    while running and time.monotonic() < deadline:
        running = [job for job in running if _executing(job)]
        if running:
            time.sleep(0.1)
    return [job.id for job in running]


def schedule_purge(func: str, subject_id: str, job_id: str, when: datetime) -> None:
    """Queue a deletion's purge job (`PURGE_JOB` or `USER_PURGE_JOB` for `subject_id`) to run at `when`.

    Raises:
        redis.RedisError: Redis could not be reached (the maintenance sweep purges due deletions anyway).
    """
    get_queue(DEFAULT).enqueue_at(when, func, args=(subject_id,), job_id=job_id, job_timeout=600,
                                  result_ttl=0, failure_ttl=3600)


def job_exists(job_id: str) -> bool:
    """Whether RQ still holds a job with this id (queued, scheduled, running or kept)."""
    try:
        Job.fetch(job_id, connection=get_rq_connection())
    except NoSuchJobError:
        return False
    return True
