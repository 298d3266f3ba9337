"""The once-a-minute maintenance job: backups on schedule, expired exports, due deletions,
and releasing what ended renders still hold when their own release was lost.

Every worker runs a small clock thread that enqueues this job at most once a minute
across all workers (a Redis `SET NX` with a TTL), so the schedule survives worker
restarts and even a Redis that lost its data; the same thread runs the recovery after
such a loss (`saas_app.jobs.recovery`).
"""

from __future__ import annotations

import logging
import threading

import redis

from saas_app.db import session_scope
from saas_app.jobs import recovery
from saas_app.jobs.worker_class import fork_guard
from saas_app.services.account import backups, deletion, exports, user_deletion
from saas_app.services.core import queue
from saas_app.services.core.storage import StorageUnavailable
from saas_app.services.usage import quotas

log = logging.getLogger(__name__)
TICK_SECONDS = 60
_LOCK_KEY = "maintenance:next-tick"


def run_maintenance() -> dict[str, int]:
    """One maintenance pass.

    Returns:
        What was done: backups taken, exports expired, workspaces and accounts purged, and ended renders whose
        lost release was made up.
    """
    done = {"backups": 0, "exports_expired": 0, "tenants_purged": 0, "users_purged": 0, "releases_recovered": 0}
    try:
        done["backups"] = 1 if backups.run_backup_if_due() else 0
    except backups.BackupError:
        log.exception("scheduled backup failed")
    try:
        with session_scope() as session:
            done["exports_expired"] = exports.delete_expired_exports(session=session)
    except StorageUnavailable:  # expired links already answer 410; the next pass deletes the files
        log.warning("could not delete expired exports: file storage unavailable")
    with session_scope() as session:
        done["tenants_purged"] = deletion.purge_due_deletions(session=session)
    with session_scope() as session:
        done["users_purged"] = user_deletion.purge_due_user_deletions(session=session)
    try:
        with session_scope() as session:
            done["releases_recovered"] = quotas.release_all_ended(session=session)
    except redis.RedisError as exc:  # the next pass tries again
        log.warning("could not look for lost releases, redis unavailable: %s", exc)
    return done


def enqueue_maintenance_once_a_minute() -> bool:
    """Queue a maintenance pass unless one was queued in the last minute (by any worker)."""
    if not queue.get_rq_connection().set(_LOCK_KEY, "1", nx=True, ex=TICK_SECONDS - 5):
        return False
    queue.get_queue(queue.DEFAULT).enqueue(queue.MAINTENANCE_JOB, job_timeout=900,
                                           result_ttl=3600, failure_ttl=86400, description="maintenance")
    return True


def start_clock(stop: threading.Event) -> threading.Thread:
    """A daemon thread that, every 15 s until `stop` is set, queues maintenance (at most once a
    minute across workers) and recovers what Redis lost if it lost its data."""

    def loop() -> None:
        while not stop.is_set():
            for task in (enqueue_maintenance_once_a_minute, recovery.recover_if_redis_lost_data):
                try:
                    with fork_guard():  # no work-horse is forked while this thread holds a pool lock
                        task()
                except redis.RedisError as exc:
                    log.warning("maintenance clock: redis unavailable (%s)", exc)
                except Exception:  # the clock must keep ticking; the next tick tries again
                    log.exception("maintenance clock: %s failed", task.__name__)
            stop.wait(15)

    thread = threading.Thread(target=loop, name="maintenance-clock", daemon=True)
    thread.start()
    return thread
