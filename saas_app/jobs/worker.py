"""The RQ worker process: ``python -m saas_app.jobs.worker``.

Listens to every queue in priority order, with the JSON serializer and the scheduler
enabled (needed for `Retry` intervals and scheduled jobs).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from datetime import UTC, datetime

import redis
from rq import Worker
from rq.serializers import JSONSerializer

from saas_app.db import forget_pooled_connections, session_scope
from saas_app.dev.guard import die_with_parent
from saas_app.jobs.maintenance import start_clock
from saas_app.jobs.render import on_work_horse_killed
from saas_app.jobs.worker_class import RenderWorker, install_fork_guard, release_inherited_sockets
from saas_app.services.core.error_reports import init_error_reports
from saas_app.services.core.logs import configure_logging
from saas_app.services.core.queue import QUEUE_NAMES, get_rq_connection
from saas_app.services.renders.files import drop_abandoned_work_folders
from saas_app.services.renders.submission import requeue_orphaned_renders
from saas_app.settings import get_settings


def main() -> None:
    """Run a worker until SIGINT or SIGTERM (the current job finishes or is handed back).

    If Redis goes away at a moment RQ does not retry by itself (e.g. as a job ends), the
    worker waits for Redis and starts again instead of exiting.
    """
    configure_logging()
    init_error_reports()
    install_fork_guard()
    os.register_at_fork(after_in_child=_after_fork_in_child)
    _recover()
    stop = threading.Event()
    start_clock(stop)
    try:
        while True:
            worker = RenderWorker(QUEUE_NAMES, connection=get_rq_connection(), serializer=JSONSerializer,
                                  work_horse_killed_handler=on_work_horse_killed,
                                  shutdown_grace=get_settings().WORKER_SHUTDOWN_GRACE_SECONDS)
            try:
                worker.work(with_scheduler=True, logging_level="INFO")
            except redis.RedisError as exc:
                log.warning("worker stopped on a redis error: %s", exc)
            if worker._stop_requested or _redis_answers():  # a shutdown, not a lost Redis
                return
            _wait_for_redis()
    finally:
        stop.set()


def _after_fork_in_child() -> None:
    """Every process this worker forks (RQ's scheduler, work-horses) stops when the worker dies
    and holds none of the worker's Redis sockets."""
    die_with_parent()
    release_inherited_sockets(get_rq_connection())
    forget_pooled_connections()


def _redis_answers() -> bool:
    try:
        return bool(get_rq_connection().ping())
    except redis.RedisError:
        return False


def _wait_for_redis() -> None:
    delay = 1.0
    while True:
        try:
            get_rq_connection().ping()
            log.warning("redis is back; restarting the worker")
            return
        except redis.RedisError:
            log.warning("worker stopped on a redis error; retrying in %.0f s", delay)
            time.sleep(delay)
            delay = min(delay * 2, 30)


def _recover() -> None:
    """Queue again renders whose jobs were lost (e.g. Redis restarted without its data), and remove
    the work files an earlier worker on this machine left of renders that ended meanwhile."""
    try:
        with session_scope() as session:
            count = requeue_orphaned_renders(session=session)
            dropped = drop_abandoned_work_folders(session=session)
        if count:
            log.warning("requeued %s render(s) whose jobs were lost", count)
        if dropped:
            log.info("removed the work files of %s render(s) that ended elsewhere", dropped)
    except Exception:  # a worker must still start when the database is briefly unavailable
        log.exception("could not check for lost render jobs")


log = logging.getLogger(__name__)

def alive(max_silence: float = 120.0) -> bool:
    """Liveness probe (``python -m saas_app.jobs.worker --alive``): a worker on this host sent a
    heartbeat within `max_silence` seconds. Also true when Redis cannot be reached: the worker
    waits for Redis by itself, and restarting it would not help."""
    try:
        workers = Worker.all(connection=get_rq_connection())
    except redis.RedisError:
        return True
    host, now = socket.gethostname(), datetime.now(UTC)
    return any(w.hostname == host and w.last_heartbeat is not None
               and (now - w.last_heartbeat).total_seconds() < max_silence for w in workers)


if __name__ == "__main__":
    if sys.argv[1:] == ["--alive"]:
        sys.exit(0 if alive() else 1)
    main()
