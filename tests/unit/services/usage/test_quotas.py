"""Quota admission on real Redis: exact under races, all-or-nothing, per month, per plan, failing closed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import redis
from factories import make_render, make_tenant, make_usage, make_user, reserved, tenant_id_of, used_counters
from sqlmodel import Session

from saas_app import routes
from saas_app.db import get_engine
from saas_app.models import utcnow
from saas_app.services.core.errors import QuotaExceeded, RateLimited, ServiceUnavailable
from saas_app.services.usage import ledger, quotas
from saas_app.services.usage.ledger import period_of
from saas_app.services.usage.metrics import METRICS
from saas_app.services.usage.plans import PLANS, Plan, get_limits
from saas_app.settings import get_settings

pytestmark = pytest.mark.db


def _previous_period() -> str:
    now = utcnow()
    return f"{now.year - 1}-12" if now.month == 1 else f"{now.year}-{now.month - 1:02d}"


def _snapshot(client: redis.Redis) -> dict[str, object]:
    """Every usage key with its value (to prove nothing changed)."""
    readers = {"hash": client.hgetall, "set": client.smembers, "string": client.get}
    return {key: readers[client.type(key)](key) for key in sorted(client.scan_iter("usage:*"))}


def _admit(session: Session, tenant_id: str, render_id: str, plan: str = "free", **estimate: float) -> None:
    quotas.admit(session=session, tenant_id=tenant_id, plan_id=plan, render_id=render_id, estimate=estimate)


def _roomy(multiplier: float = 1, concurrency: int = 1000) -> Plan:
    return Plan("roomy", "Roomy", 0, multiplier, concurrency, False)


@pytest.fixture
def roomy_plan() -> Iterator[str]:
    """A base-quota plan whose concurrency never binds, so only the quota decides."""
    with PLANS.extended(_roomy()):
        yield "roomy"


# Exactness


def test_a_race_of_64_admits_exactly_the_quota(session: Session, redis_client: redis.Redis, app_settings,
                                               roomy_plan: str) -> None:
    app_settings.set(QUOTA_IMAGES_COUNT=10)
    tenant = make_tenant(session, plan=roomy_plan)
    start = threading.Barrier(64)

    def attempt(n: int) -> str:
        with Session(get_engine()) as own:  # the counters are built by whichever thread gets the lock
            start.wait()
            try:
                _admit(own, tenant.id, f"race{n}", plan=roomy_plan, images_count=1.0)
                return "admitted"
            except QuotaExceeded as exc:
                assert (exc.metric, exc.limit, exc.requested) == ("images_count", 10, 1)
                return "refused"

    with ThreadPoolExecutor(max_workers=64) as pool:
        outcomes = list(pool.map(attempt, range(64)))

    assert outcomes.count("admitted") == 10 and outcomes.count("refused") == 54
    assert reserved(redis_client, tenant.id)["images_count"] == 10
    assert redis_client.scard(f"usage:{tenant.id}:active") == 10
    assert redis_client.scard("usage:active") == 10


def test_an_exact_fit_is_admitted_and_one_more_is_not(session: Session, app_settings, roomy_plan: str) -> None:
    app_settings.set(QUOTA_TTS_SECONDS=10)
    tenant = make_tenant(session, plan=roomy_plan)
    _admit(session, tenant.id, "a", plan=roomy_plan, tts_seconds=3.3)
    _admit(session, tenant.id, "b", plan=roomy_plan, tts_seconds=6.7)  # float sums land on the limit
    with pytest.raises(QuotaExceeded) as caught:
        _admit(session, tenant.id, "c", plan=roomy_plan, tts_seconds=0.1)
    assert caught.value.metric == "tts_seconds"
    assert caught.value.used == pytest.approx(10.0)


def test_a_request_over_one_metric_changes_no_counter(session: Session, redis_client: redis.Redis, app_settings,
                                                     roomy_plan: str) -> None:
    app_settings.set(QUOTA_IMAGES_COUNT=100, QUOTA_TTS_SECONDS=100)
    tenant = make_tenant(session, plan=roomy_plan)
    quotas.apply_rows([make_usage(session, tenant.id, "tts_seconds", 40.0)])
    _admit(session, tenant.id, "first", plan=roomy_plan, images_count=2.0, tts_seconds=10.0, storage_mb=1.0)
    before = _snapshot(redis_client)

    with pytest.raises(QuotaExceeded) as caught:  # images would fit, speech would not
        _admit(session, tenant.id, "second", plan=roomy_plan, images_count=5.0, tts_seconds=51.0, storage_mb=1.0)

    assert (caught.value.metric, caught.value.used, caught.value.limit, caught.value.requested) == (
        "tts_seconds", 50.0, 100.0, 51.0)
    assert caught.value.upgrade_url == f"{get_settings().APP_BASE_URL}{routes.BILLING}"
    assert "speech" in caught.value.message.lower()
    assert _snapshot(redis_client) == before
    assert not redis_client.exists("usage:resv:second")


def test_a_refusal_for_concurrency_reserves_nothing(session: Session, redis_client: redis.Redis) -> None:
    tenant = make_tenant(session)
    _admit(session, tenant.id, "first", images_count=1.0, tts_seconds=2.0)
    before = _snapshot(redis_client)
    with pytest.raises(RateLimited):
        _admit(session, tenant.id, "second", images_count=1.0, tts_seconds=2.0)
    assert _snapshot(redis_client) == before


# Months


def test_last_months_usage_does_not_count_this_month(session: Session, redis_client: redis.Redis,
                                                     app_settings) -> None:
    app_settings.set(QUOTA_IMAGES_COUNT=10)
    tenant = make_tenant(session)
    last = _previous_period()
    old = make_usage(session, tenant.id, "images_count", 10.0, period=last)
    quotas.ensure_counters(session=session, tenant_id=tenant.id)
    assert quotas.apply_rows([old]) == 1

    assert used_counters(redis_client, tenant.id, last) == {"images_count": 10.0}
    assert used_counters(redis_client, tenant.id) == {}
    _admit(session, tenant.id, "fresh", images_count=10.0)  # the whole quota is available again
    summary = quotas.get_usage_summary(session=session, tenant_id=tenant.id, plan_id="free")
    assert summary.period == period_of()
    assert summary.metrics["images_count"].used == 0
    assert ledger.sum_usage(session=session, tenant_id=tenant.id, period=last)["images_count"] == 10
    assert ledger.sum_usage(session=session, tenant_id=tenant.id, period=period_of())["images_count"] == 0


def test_a_rebuild_counts_only_this_month_but_all_stored_files(session: Session, redis_client: redis.Redis) -> None:
    tenant = make_tenant(session)
    last = _previous_period()
    make_usage(session, tenant.id, "images_count", 7.0, period=last)
    make_usage(session, tenant.id, "storage_mb", 5.0, period=last)  # files stay stored across months
    make_usage(session, tenant.id, "images_count", 2.0)
    quotas.ensure_counters(session=session, tenant_id=tenant.id)
    assert used_counters(redis_client, tenant.id) == {"images_count": 2.0}
    assert float(redis_client.hget(f"usage:{tenant.id}:gauge", "storage_mb")) == 5.0
    assert not redis_client.exists(f"usage:{tenant.id}:{last}")


@pytest.mark.parametrize(("period", "expected"), [
    ("2026-01", datetime(2026, 2, 1, tzinfo=UTC)),
    ("2026-11", datetime(2026, 12, 1, tzinfo=UTC)),
    ("2026-12", datetime(2027, 1, 1, tzinfo=UTC)),
])
def test_counters_reset_at_the_first_of_next_month_utc(period: str, expected: datetime) -> None:
    assert quotas.reset_at(period) == expected


def test_the_summary_resets_at_the_start_of_next_month(session: Session) -> None:
    tenant = make_tenant(session)
    summary = quotas.get_usage_summary(session=session, tenant_id=tenant.id, plan_id="free")
    reset = summary.reset_at
    now = datetime.now(UTC)
    assert (reset.day, reset.hour, reset.minute, reset.second) == (1, 0, 0, 0)
    assert reset.utcoffset() == timedelta(0)
    assert now < reset and (reset - now).days <= 31
    assert period_of(now) != period_of(reset)



def test_the_current_month_turns_over_at_midnight_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """`period_of()` caches the month until it ends: the cache must turn over exactly then."""
    assert period_of() == datetime.now(UTC).strftime("%Y-%m")
    clock = {"now": 0.0}
    monkeypatch.setattr(ledger.time, "time", lambda: clock["now"])
    seen = []
    for moment in [datetime(2026, 11, 30, 23, 59, 59, 999000), datetime(2026, 12, 1),
                   datetime(2026, 12, 31, 23, 59, 59), datetime(2027, 1, 1),
                   datetime(2026, 11, 15)]:  # the last one: the clock was set back
        clock["now"] = moment.replace(tzinfo=UTC).timestamp()
        seen.append(period_of())
    assert seen == ["2026-11", "2026-12", "2026-12", "2027-01", "2026-11"]


# Plans


def test_plan_limits_multiply_the_base_quota(app_settings) -> None:
    base = {metric.name: 7 * (n + 1) for n, metric in enumerate(METRICS)}  # a different quota per metric
    app_settings.set(**{METRICS.get(name).quota_setting: quota for name, quota in base.items()})
    assert get_limits("free") == base
    assert get_limits("pro") == {m: 5 * v for m, v in base.items()}
    assert get_limits("enterprise") == dict.fromkeys(METRICS.names())
    assert get_limits("no-such-plan") == base and get_limits(None) == base


def test_free_and_pro_are_held_to_their_multiple(session: Session, app_settings) -> None:
    app_settings.set(QUOTA_IMAGES_COUNT=2)
    free, pro = make_tenant(session), make_tenant(session, plan="pro")
    with pytest.raises(QuotaExceeded) as caught:
        _admit(session, free.id, "f1", images_count=3.0)
    assert caught.value.limit == 2
    _admit(session, free.id, "f2", images_count=2.0)
    with pytest.raises(QuotaExceeded) as caught:
        _admit(session, pro.id, "p1", plan="pro", images_count=11.0)
    assert caught.value.limit == 10
    _admit(session, pro.id, "p2", plan="pro", images_count=10.0)



def test_admission_follows_changed_settings_and_plan_definitions(session: Session, app_settings) -> None:
    """The plan part of the script's arguments is cached; a new quota or plan definition must show at once."""
    tenant = make_tenant(session, plan="roomy")
    with PLANS.extended(_roomy()):
        app_settings.set(QUOTA_IMAGES_COUNT=2)
        with pytest.raises(QuotaExceeded) as caught:
            _admit(session, tenant.id, "r1", plan="roomy", images_count=3.0)
        assert caught.value.limit == 2
        app_settings.set(QUOTA_IMAGES_COUNT=4)
        _admit(session, tenant.id, "r2", plan="roomy", images_count=3.0)
        with pytest.raises(QuotaExceeded) as caught:
            _admit(session, tenant.id, "r3", plan="roomy", images_count=3.0)
        assert caught.value.limit == 4
    with PLANS.extended(_roomy(multiplier=3)):  # same id, three times the quota
        _admit(session, tenant.id, "r4", plan="roomy", images_count=3.0)
    with PLANS.extended(_roomy(multiplier=3, concurrency=2)), pytest.raises(RateLimited):  # now two at a time
        _admit(session, tenant.id, "r5", plan="roomy", images_count=1.0)


def test_enterprise_is_unlimited(session: Session, redis_client: redis.Redis, app_settings) -> None:
    app_settings.set(**{metric.quota_setting: 0 for metric in METRICS})
    tenant = make_tenant(session, plan="enterprise")
    huge = dict.fromkeys(METRICS.names(), 1e12)
    for n in range(3):
        _admit(session, tenant.id, f"big{n}", plan="enterprise", **huge)
    assert reserved(redis_client, tenant.id) == dict.fromkeys(METRICS.names(), 3e12)
    summary = quotas.get_usage_summary(session=session, tenant_id=tenant.id, plan_id="enterprise")
    assert summary.plan == "enterprise"
    assert all(v.limit is None and v.percent is None and v.remaining is None
               for v in summary.metrics.values())


# Concurrency and queue depth


def test_free_runs_one_render_at_a_time(session: Session) -> None:
    tenant = make_tenant(session)
    _admit(session, tenant.id, "r1", images_count=1.0)
    with pytest.raises(RateLimited) as caught:
        _admit(session, tenant.id, "r2", images_count=1.0)
    assert caught.value.retry_after >= 1
    assert "makes 1 video at a time" in caught.value.message
    quotas.release(tenant_id=tenant.id, render_id="r1")
    _admit(session, tenant.id, "r2", images_count=1.0)


def test_pro_runs_three_at_a_time(session: Session) -> None:
    tenant = make_tenant(session, plan="pro")
    for n in range(3):
        _admit(session, tenant.id, f"r{n}", plan="pro", images_count=1.0)
    with pytest.raises(RateLimited):
        _admit(session, tenant.id, "r3", plan="pro", images_count=1.0)


def test_the_global_queue_depth_applies_across_tenants(session: Session, app_settings) -> None:
    app_settings.set(MAX_QUEUE_DEPTH=2)
    first, second = make_tenant(session, plan="enterprise"), make_tenant(session, plan="enterprise")
    _admit(session, first.id, "a1", plan="enterprise", images_count=1.0)
    _admit(session, first.id, "a2", plan="enterprise", images_count=1.0)
    with pytest.raises(RateLimited) as caught:
        _admit(session, second.id, "b1", plan="enterprise", images_count=1.0)
    assert "busy" in caught.value.message and caught.value.retry_after >= 1
    quotas.release(tenant_id=first.id, render_id="a1")
    _admit(session, second.id, "b1", plan="enterprise", images_count=1.0)


# Releases lost to a Redis error


def _ended_without_release(session: Session, user, plan: str, status: str, ago: timedelta = timedelta(minutes=5),
                           **estimate: float):  # type: ignore[no-untyped-def]
    """A render admitted, then ended (`ago`) in the database while its release never reached Redis."""
    quotas.ensure_counters(session=session, tenant_id=tenant_id_of(user))  # as in the app: built before the row exists
    render = make_render(session, user, estimate_json=json.dumps(estimate))
    _admit(session, tenant_id_of(user), render.id, plan=plan, **estimate)
    render.status, render.finished_at = status, utcnow() - ago
    session.add(render)
    session.commit()
    return render


def test_a_lost_release_does_not_refuse_the_next_render_over_quota(
        session: Session, redis_client: redis.Redis, app_settings, roomy_plan: str) -> None:
    app_settings.set(QUOTA_IMAGES_COUNT=3)
    user = make_user(session, make_tenant(session, plan=roomy_plan))
    ended = _ended_without_release(session, user, roomy_plan, "failed", images_count=3.0)
    assert reserved(redis_client, tenant_id_of(user))["images_count"] == 3  # what the lost release left held

    _admit(session, tenant_id_of(user), "next", plan=roomy_plan, images_count=2.0)  # would be a 402 otherwise

    assert reserved(redis_client, tenant_id_of(user))["images_count"] == 2
    assert not redis_client.exists(f"usage:resv:{ended.id}")
    assert redis_client.smembers(f"usage:{tenant_id_of(user)}:active") == {"next"}


def test_the_maintenance_sweep_releases_ended_renders_of_every_tenant(
        session: Session, redis_client: redis.Redis) -> None:
    first, second, busy = (make_user(session, make_tenant(session, plan="pro")) for _ in range(3))
    for user, status in ((first, "succeeded"), (second, "canceled")):
        _ended_without_release(session, user, "pro", status, images_count=2.0, tts_seconds=5.0)
    just_ended = _ended_without_release(session, busy, "pro", "failed", ago=timedelta(seconds=1), images_count=1.0)
    running = make_render(session, busy, status="running")
    _admit(session, tenant_id_of(busy), running.id, plan="pro", images_count=1.0)

    assert quotas.release_all_ended(session=session) == 2

    for user in (first, second):
        assert reserved(redis_client, tenant_id_of(user)) == pytest.approx(dict.fromkeys(METRICS.names(), 0.0))
        assert redis_client.scard(f"usage:{tenant_id_of(user)}:active") == 0
    # the unfinished render keeps its hold; the one that just ended is left to its worker for now
    assert redis_client.smembers("usage:active") == {running.id, just_ended.id}
    assert reserved(redis_client, tenant_id_of(busy))["images_count"] == 2
    assert quotas.release_all_ended(session=session) == 0
    assert quotas.release_all_ended(session=session, grace=timedelta(0)) == 1
    assert redis_client.smembers("usage:active") == {running.id}


# Failing closed


def test_admission_fails_closed_when_redis_is_down(session: Session, dead_redis_url) -> None:
    tenant = make_tenant(session)
    with pytest.raises(ServiceUnavailable) as caught:
        _admit(session, tenant.id, "r1", images_count=1.0)
    assert caught.value.retry_after > 0
    assert "try again" in caught.value.message.lower()
    dead_redis_url.restore()
    _admit(session, tenant.id, "r1", images_count=1.0)
