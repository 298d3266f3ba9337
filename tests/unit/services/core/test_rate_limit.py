"""Fixed-window limits on real Redis: counting, all-or-nothing, retry hints, failing closed."""

from __future__ import annotations

import pytest
import redis
from factories import dead_redis

from saas_app.services.core import rate_limit
from saas_app.services.core.errors import RateLimited, ServiceUnavailable
from saas_app.services.core.rate_limit import Limit, check_limits, refund_limits

pytestmark = pytest.mark.usefixtures("redis_client")  # real Redis, flushed before each test

MESSAGE = "Slow down."


def test_counts_up_to_the_limit_then_refuses(redis_client: redis.Redis) -> None:
    limit = Limit("t:a", 3, 60)
    for _ in range(3):
        check_limits(limits=[limit], message=MESSAGE)
    assert redis_client.get("rl:t:a") == "3"
    with pytest.raises(RateLimited) as caught:
        check_limits(limits=[limit], message=MESSAGE)
    assert caught.value.message.startswith(MESSAGE + " Try again in ")  # the wait, in plain words
    assert 0 < caught.value.retry_after <= 60
    assert 0 < redis_client.ttl("rl:t:a") <= 60


def test_a_refused_hit_counts_nowhere(redis_client: redis.Redis) -> None:
    tight, loose = Limit("t:tight", 1, 60), Limit("t:loose", 5, 3600)
    check_limits(limits=[tight, loose], message=MESSAGE)
    for _ in range(3):
        with pytest.raises(RateLimited):
            check_limits(limits=[tight, loose], message=MESSAGE)
    assert redis_client.get("rl:t:tight") == "1"
    assert redis_client.get("rl:t:loose") == "1"
    for _ in range(4):  # the loose window still has exactly four hits left
        check_limits(limits=[loose], message=MESSAGE)
    with pytest.raises(RateLimited):
        check_limits(limits=[loose], message=MESSAGE)


def test_retry_after_is_the_longest_wait_among_full_windows(redis_client: redis.Redis) -> None:
    short, long = Limit("t:short", 1, 10), Limit("t:long", 1, 3600)
    check_limits(limits=[short, long], message=MESSAGE)
    with pytest.raises(RateLimited) as caught:
        check_limits(limits=[short, long], message=MESSAGE)
    assert 3590 < caught.value.retry_after <= 3600
    redis_client.delete("rl:t:long")
    with pytest.raises(RateLimited) as caught:
        check_limits(limits=[short, long], message=MESSAGE)
    assert 0 < caught.value.retry_after <= 10


def test_windows_are_independent_per_key() -> None:
    check_limits(limits=[Limit("t:one", 1, 60)], message=MESSAGE)
    check_limits(limits=[Limit("t:two", 1, 60)], message=MESSAGE)
    with pytest.raises(RateLimited):
        check_limits(limits=[Limit("t:one", 1, 60)], message=MESSAGE)


def test_expired_window_starts_over(redis_client: redis.Redis) -> None:
    limit = Limit("t:w", 1, 60)
    check_limits(limits=[limit], message=MESSAGE)
    redis_client.delete("rl:t:w")  # what the key's expiry does after 60 s
    check_limits(limits=[limit], message=MESSAGE)
    assert redis_client.get("rl:t:w") == "1"


def test_unreachable_redis_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_limit, "get_redis", dead_redis)
    with pytest.raises(ServiceUnavailable) as caught:
        check_limits(limits=[Limit("t:x", 5, 60)], message=MESSAGE)
    assert caught.value.status_code == 503
    assert "try again" in caught.value.message.lower()


def test_a_refund_gives_back_one_hit_and_never_goes_below_zero(redis_client: redis.Redis) -> None:
    limits = [Limit("t:r1", 1, 60), Limit("t:r2", 5, 3600)]
    check_limits(limits=limits, message=MESSAGE)
    refund_limits(limits=limits)
    assert redis_client.get("rl:t:r1") == "0" and redis_client.get("rl:t:r2") == "0"
    refund_limits(limits=limits)
    assert redis_client.get("rl:t:r1") == "0"
    check_limits(limits=limits, message=MESSAGE)  # the refunded hit left room again
    with pytest.raises(RateLimited):
        check_limits(limits=limits, message=MESSAGE)
