"""The shared Redis client."""

from __future__ import annotations

import functools

import redis

from saas_app.settings import get_settings


@functools.lru_cache(maxsize=4)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5,
        health_check_interval=30,
    )


def get_redis() -> redis.Redis:
    """Return the client for `REDIS_URL` (connections are pooled and lazy)."""
    return _client_for(get_settings().REDIS_URL)
