"""A workspace's render change counter: every change to one of its renders (queued, a step's
progress, a charge, the end, a cancel or delete) adds one. A browser tab watches this one Redis
number, about twice a second, and reloads what it shows only when it moved: one cheap read per
tab, however many renders run, instead of every page polling the database.
"""

from __future__ import annotations

import logging
from typing import cast

import redis

from saas_app.services.core.redis_client import get_redis

log = logging.getLogger(__name__)
KEEP_SECONDS = 7 * 24 * 3600  # a counter nobody moved for a week is dropped (a watcher reads 0, then sees it move)


def _key(tenant_id: str) -> str:
    return f"renders:changed:{tenant_id}"


def note_render_change(tenant_id: str) -> None:
    """Tell the workspace's watching tabs that one of its renders changed (best effort: a lost note
    only delays a tab until the next one)."""
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.incr(_key(tenant_id))
        pipe.expire(_key(tenant_id), KEEP_SECONDS)
        pipe.execute()
    except redis.RedisError as exc:
        log.info("render change note for %s lost: %s", tenant_id, exc)


def get_render_changes(tenant_id: str) -> int | None:
    """The workspace's change counter (0 before any change); None when Redis cannot be asked."""
    try:
        value = cast(str | None, get_redis().get(_key(tenant_id)))
    except redis.RedisError:
        return None
    return int(value or 0)


def forget_tenant(*, tenant_id: str) -> None:
    """Drop the workspace's change counter (account deletion).

    Raises:
        redis.RedisError: Redis could not be reached (the purge is retried).
    """
    get_redis().delete(_key(tenant_id))
