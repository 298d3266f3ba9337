"""RQ queues. Every queue and worker uses the JSON serializer."""

from __future__ import annotations

import functools

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from saas_app.settings import get_settings

# Workers listen to these, in priority order.
QUEUE_NAMES = ["renders", "default"]


@functools.lru_cache(maxsize=4)
def _connection_for(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=2)


def get_rq_connection() -> Redis:
    """The bytes-mode Redis client for RQ (RQ does not accept decode_responses); pooled per URL."""
    return _connection_for(get_settings().REDIS_URL)


def get_queue(name: str = "default") -> Queue:
    """The named queue, with the JSON serializer."""
    return Queue(name, connection=get_rq_connection(), serializer=JSONSerializer)
