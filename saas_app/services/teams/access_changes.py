"""A person's access change counter: removing them from a workspace, changing their role or ending
their sessions adds one. Each signed-in browser tab watches its user's counter (one Redis read about
twice a second) and checks its principal again when it moved, so an open tab loses access at once.
"""

from __future__ import annotations

import logging
from typing import cast

import redis
from sqlalchemy import event
from sqlmodel import Session

from saas_app.services.core.redis_client import get_redis

log = logging.getLogger(__name__)
_PENDING = "access_changes_pending"  # `Session.info` key: the people to tell after the commit
KEEP_SECONDS = 7 * 24 * 3600  # an untouched counter is dropped after a week (a watcher reads 0, then sees it move)


def _key(user_id: str) -> str:
    return f"access:changed:{user_id}"


def note_access_change(user_ids: list[str]) -> None:
    """Tell these people's open tabs to check their access again (best effort: call it after the commit;
    a lost note only delays a tab until its next event, which is refused anyway)."""
    if not user_ids:
        return
    try:
        pipe = get_redis().pipeline(transaction=False)
        for user_id in user_ids:
            pipe.incr(_key(user_id))
            pipe.expire(_key(user_id), KEEP_SECONDS)
        pipe.execute()
    except redis.RedisError as exc:
        log.info("access change note for %s lost: %s", user_ids, exc)


def note_after_commit(*, session: Session, user_ids: list[str]) -> None:
    """Tell these people's open tabs to check their access once `session` commits, each person once per
    commit however many changes noted them (a rollback tells nobody now; a note after a later commit
    would only make a tab check again)."""
    if not user_ids:
        return
    pending: set[str] = session.info.setdefault(_PENDING, set())
    if not pending:  # the first note of this transaction: one hook tells everyone noted
        def _notify(committed: Session) -> None:
            note_access_change(sorted(committed.info.pop(_PENDING, set())))

        event.listen(session, "after_commit", _notify, once=True)
    pending.update(user_ids)


def get_access_changes(user_id: str) -> int | None:
    """The person's access change counter (0 before any change); None when Redis cannot be asked."""
    try:
        value = cast(str | None, get_redis().get(_key(user_id)))
    except redis.RedisError:
        return None
    return int(value or 0)


def forget_users(*, user_ids: list[str]) -> None:
    """Drop these people's counters (account deletion).

    Raises:
        redis.RedisError: Redis could not be reached (the purge is retried).
    """
    if user_ids:
        get_redis().delete(*[_key(uid) for uid in user_ids])
