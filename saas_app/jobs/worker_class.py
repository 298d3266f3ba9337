"""The RQ worker class our workers run: RQ's forking `Worker` with three changes (and, for
every fork of the worker, `release_inherited_sockets`).

- A work-horse dies with its worker (parent-death signal), so a killed worker leaves no
  render running on its own.
- Heartbeats come every `MONITORING_INTERVAL` seconds and count for `HEARTBEAT_MARGIN`
  seconds more, and RQ's own maintenance (the cleanup of the started-job registry, a
  restart of the scheduler) runs every `UPKEEP_INTERVAL` seconds, idle or busy, so the
  job of a dead worker is retried or failed within a minute (RQ's defaults: 90 s
  heartbeats and maintenance every 10 minutes, only between jobs).
- On SIGTERM (warm shutdown) the current job gets `shutdown_grace` seconds to finish;
  after that the horse is stopped and the job handed back to the front of its queue,
  without using up a retry. A render resumes from its last finished step, and the
  ledger's unique event keys make a repeated step charge once.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
from resource import struct_rusage
from typing import Any

import redis
from rq import Queue, Worker
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry

from saas_app.dev.guard import die_with_parent

MONITORING_INTERVAL = 5
HEARTBEAT_MARGIN = 25
UPKEEP_INTERVAL = 15

# Held by the worker's own threads while they use Redis or the database, and by every fork
# of the worker (`install_fork_guard`). A child inherits the locks of the parent's threads
# in the state they were in at the fork, and a lock held at that instant (redis-py's pool
# lock, SQLAlchemy's pool queue) could never be released in the child: the work-horse would
# hang on its first query until the job timeout.
_FORK_LOCK = threading.Lock()


def install_fork_guard() -> None:
    """Make every `os.fork` of this process wait while `fork_guard` is held (call once, early)."""
    os.register_at_fork(before=_FORK_LOCK.acquire, after_in_parent=_FORK_LOCK.release,
                        after_in_child=_FORK_LOCK.release)


def fork_guard() -> threading.Lock:
    """The lock a worker thread holds while it uses Redis or the database (`with fork_guard(): ...`)."""
    return _FORK_LOCK


def release_inherited_sockets(client: redis.Redis) -> None:
    """In a forked child: close this process's copies of the parent's Redis sockets.

    A child that kept them (RQ's scheduler does) would keep the parent's blocked BLPOP
    connection open after the parent died, and Redis would hand the next job to that dead
    reader: the job would be lost. redis-py only closes (never shuts down) a socket that
    another process opened, so the parent's connections are unaffected.
    """
    pool = client.connection_pool
    for connection in [*getattr(pool, "_available_connections", ()), *getattr(pool, "_in_use_connections", ())]:
        connection.disconnect()


class RenderWorker(Worker):
    """`rq.Worker` with horses that die with it, short heartbeats and a bounded warm shutdown."""

    def __init__(self, *args: Any, shutdown_grace: float = 25.0, **kwargs: Any) -> None:
        kwargs.setdefault("job_monitoring_interval", MONITORING_INTERVAL)
        kwargs.setdefault("maintenance_interval", UPKEEP_INTERVAL)
        super().__init__(*args, **kwargs)
        self.shutdown_grace = shutdown_grace
        self._grace_timer: threading.Timer | None = None
        self._handed_back: str | None = None

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        die_with_parent(signal.SIGKILL)
        super().main_work_horse(job, queue)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        interval = float(self.job_monitoring_interval)
        if job.timeout and job.timeout > 0:
            interval = min(interval, job.timeout - working_time)
        return int(interval) + HEARTBEAT_MARGIN

    @property
    def dequeue_timeout(self) -> int:
        return UPKEEP_INTERVAL  # an idle worker wakes up for its maintenance

    def maintain_heartbeats(self, job: Job, execution: Execution) -> None:
        super().maintain_heartbeats(job, execution)
        if self.should_run_maintenance_tasks:  # a busy worker too, in the main thread (RQ's callbacks use SIGALRM)
            self.run_maintenance_tasks()

    def handle_warm_shutdown_request(self) -> None:
        super().handle_warm_shutdown_request()
        if self.horse_pid and self._grace_timer is None:
            self.log.info("Worker %s: the current job has %g s to finish before it is handed back",
                          self.name, self.shutdown_grace)
            self._grace_timer = threading.Timer(self.shutdown_grace, self._hand_back, args=(self.horse_pid,))
            self._grace_timer.daemon = True
            self._grace_timer.start()

    def _hand_back(self, horse_pid: int) -> None:
        job_id = self.get_current_job_id()
        if horse_pid <= 0 or horse_pid != self.horse_pid or job_id is None:
            return  # the job ended in time
        self.log.warning("Worker %s: job %s is still running at shutdown; handing it back", self.name, job_id)
        self._handed_back = job_id
        try:
            os.killpg(horse_pid, signal.SIGKILL)  # the horse leads its own process group
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise

    def handle_work_horse_killed(self, job: Job, retpid: int, ret_val: int, rusage: struct_rusage) -> None:
        if job.id != self._handed_back:
            super().handle_work_horse_killed(job, retpid, ret_val, rusage)

    def handle_job_failure(self, job: Job, queue: Queue, started_job_registry: StartedJobRegistry | None = None,
                           exc_string: str = "", execution: Execution | None = None) -> None:
        if job.id != self._handed_back:
            super().handle_job_failure(job, queue, started_job_registry, exc_string, execution)
            return
        self._handed_back = None
        with self.connection.pipeline() as pipeline:
            self.cleanup_execution(job, pipeline=pipeline, execution=execution)
            pipeline.execute()
        queue.enqueue_job(job, at_front=True)
        self.log.info("Worker %s: job %s handed back to queue %s", self.name, job.id, queue.name)
