"""Fixed-window rate limits in Redis, checked all at once.

If Redis loses its data, limits must not silently restart from zero: a marker key
(`RESTORED_KEY`, outside the `rl:` windows) says the windows are whole; when it is missing,
`ensure_windows` first puts back the windows its caller rebuilds from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

import redis

from saas_app.services.core.errors import RateLimited, ServiceUnavailable
from saas_app.services.core.redis_client import get_redis

log = logging.getLogger(__name__)

# All or nothing: when any window is full, report the longest wait and count nothing,
# so refused attempts do not extend a lockout; otherwise count one hit in every window.
_CHECK_SCRIPT = """
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= limit then
    local ttl = redis.call('TTL', key)
    if ttl < 1 then ttl = tonumber(ARGV[2 * i]) end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, tonumber(ARGV[2 * i])) end
end
return 0
"""

# Give back the hit `_CHECK_SCRIPT` counted (the action it guarded failed); never below zero.
_REFUND_SCRIPT = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"""

RESTORED_KEY = "rl-windows:restored"
_RESTORE_LOCK = "rl-windows:restore-lock"


@dataclass(frozen=True)
class Window:
    """A window to put back: `hits` already counted under `key`, ending in `ttl` seconds."""

    key: str
    hits: int
    ttl: int


def ensure_windows(*, restore: Callable[[], Iterable[Window]]) -> None:
    """Before counting: when Redis lost its windows, put back what `restore` rebuilds.

    Windows that exist again by then are kept (they are newer). Runs once per data loss,
    under a lock, so concurrent requests wait for it.

    Raises:
        ServiceUnavailable: When Redis cannot be reached (fail closed).
    """
    try:
        r = get_redis()
        if r.exists(RESTORED_KEY):
            return
        with r.lock(_RESTORE_LOCK, timeout=30, blocking_timeout=10):
            if r.exists(RESTORED_KEY):
                return
            pipe = r.pipeline(transaction=False)
            for window in restore():
                if window.hits > 0 and window.ttl > 0:
                    pipe.set(f"rl:{window.key}", window.hits, ex=window.ttl, nx=True)
            pipe.set(RESTORED_KEY, "1")
            pipe.execute()
    except redis.RedisError as exc:
        raise ServiceUnavailable("This service is briefly unavailable.") from exc


@dataclass(frozen=True)
class Limit:
    """At most `limit` hits per `window` seconds for `key`."""

    key: str
    limit: int
    window: int


def check_limits(*, limits: list[Limit], message: str) -> None:
    """Count one hit against every limit, or raise `RateLimited` and count none.

    Args:
        limits: The windows to count against (keys are prefixed with `rl:`).
        message: What to tell the user when limited.

    Raises:
        RateLimited: With `retry_after` set to the longest wait among exceeded limits.
        ServiceUnavailable: When Redis cannot be reached (fail closed).
    """
    keys = [f"rl:{lim.key}" for lim in limits]
    args: list[int] = []
    for lim in limits:
        args += [lim.limit, lim.window]
    try:
        wait = int(cast(str, get_redis().eval(_CHECK_SCRIPT, len(keys), *keys, *args)))
    except redis.RedisError as exc:
        raise ServiceUnavailable("This service is briefly unavailable.") from exc
    if wait > 0:
        raise RateLimited(message, retry_after=wait)


def refund_limits(*, limits: list[Limit]) -> None:
    """Give back the hit `check_limits` counted, when the action it guarded failed (nothing was done).

    Best effort: when Redis cannot be reached the hit stays counted (the limits fail closed).
    """
    try:
        get_redis().eval(_REFUND_SCRIPT, len(limits), *[f"rl:{lim.key}" for lim in limits])
    except redis.RedisError as exc:
        log.warning("rate limit refund failed: %s", exc)
