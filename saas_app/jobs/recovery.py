"""Self-healing after Redis lost its data (restarted empty, failed over, flushed).

Every worker's clock thread calls `recover_if_redis_lost_data` every 15 seconds. A marker
key says this Redis has been recovered; when it is missing, one worker (under a lock)
rebuilds from the SQL database what Redis held:

- usage counters, slots and reservations of every tenant with usage this month or an
  unfinished render (from the ledger and the renders table);
- the jobs of queued and running renders whose jobs are gone (queued once: job ids are
  unique and RQ checks that atomically);
- the scheduled purge jobs of pending account deletions.

The maintenance tick and backups need nothing: the clock queues maintenance again and
backups follow their cron from the files on disk. Sign-in email rate limits are put back
from the magic-link table by the app on the next request (see `rate_limit.ensure_windows`).
"""

from __future__ import annotations

import logging

from saas_app.db import session_scope
from saas_app.services.account import deletion, user_deletion
from saas_app.services.core.queue import get_rq_connection
from saas_app.services.renders import submission
from saas_app.services.usage import quotas

log = logging.getLogger(__name__)
_RECOVERED = "recovery:redis-recovered"
_LOCK = "recovery:lock"


def recover() -> dict[str, int]:
    """Rebuild counters, requeue lost render jobs and reschedule purges (safe to run any time).

    Returns:
        `{"tenants": n, "requeued": m, "purges": k}`.
    """
    with session_scope() as session:
        tenants = quotas.ensure_all_counters(session=session)
    with session_scope() as session:
        requeued = submission.requeue_orphaned_renders(session=session)
    with session_scope() as session:
        purges = deletion.reschedule_purges(session=session)
    with session_scope() as session:
        purges += user_deletion.reschedule_user_purges(session=session)
    return {"tenants": tenants, "requeued": requeued, "purges": purges}


def recover_if_redis_lost_data() -> dict[str, int] | None:
    """Run `recover` once per Redis data loss (any worker; the others skip it).

    Returns:
        What was done, or None when nothing was needed (or another worker is at it).
    """
    connection = get_rq_connection()
    if connection.exists(_RECOVERED) or not connection.set(_LOCK, "1", nx=True, ex=300):
        return None
    try:
        done = recover()
        connection.set(_RECOVERED, "1")
    finally:
        connection.delete(_LOCK)
    if any(done.values()):
        log.warning("redis had lost its data (or is new): rebuilt counters of %s tenant(s), requeued %s "
                    "render(s), rescheduled %s purge(s)", done["tenants"], done["requeued"], done["purges"])
    return done
