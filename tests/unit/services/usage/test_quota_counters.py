"""Usage counters: charges applied once, reservations released, everything rebuilt from the ledger."""

from __future__ import annotations

import json

import pytest
import redis
from factories import (
    CTX,
    make_principal,
    make_render,
    make_tenant,
    make_usage,
    make_user,
    reserved,
    tenant_id_of,
    used_counters,
)
from sqlmodel import Session, select

from saas_app.jobs.reconcile import reconcile
from saas_app.models import Render, UsageRecord
from saas_app.services.core import queue
from saas_app.services.core.errors import QuotaExceeded
from saas_app.services.renders import pipeline
from saas_app.services.renders import submission as renders
from saas_app.services.usage import ledger, quotas
from saas_app.services.usage.ledger import period_of
from saas_app.services.usage.metrics import METRICS

pytestmark = pytest.mark.db

ZERO = dict.fromkeys(METRICS.names(), 0.0)


def _admit(session: Session, tenant_id: str, render_id: str, plan: str = "free", **estimate: float) -> None:
    quotas.admit(session=session, tenant_id=tenant_id, plan_id=plan, render_id=render_id, estimate=estimate)


def _floats(mapping: dict[str, str]) -> dict[str, float]:
    return {k: round(float(v), 6) for k, v in mapping.items()}


# Charging and releasing


def _row(tenant_id: str, render_id: str, step: str, metric: str, amount: float) -> UsageRecord:
    return UsageRecord(tenant_id=tenant_id, render_id=render_id, metric=metric, amount=amount, period=period_of(),
                       event_key=ledger.event_key(render_id, step, metric))


def test_charges_move_from_reservation_to_used_exactly_once(session: Session, redis_client: redis.Redis) -> None:
    tenant = make_tenant(session)
    _admit(session, tenant.id, "r1", images_count=2.0, tts_seconds=10.0, render_minutes=0.5, storage_mb=1.0)
    rows = [_row(tenant.id, "r1", "speech", "tts_seconds", 7.5), _row(tenant.id, "r1", "images", "images_count", 2)]

    assert quotas.apply_rows(rows) == 2
    assert quotas.apply_rows(rows) == 0  # a retried step is never counted twice
    assert quotas.apply_rows(rows[:1]) == 0

    assert used_counters(redis_client, tenant.id) == {"tts_seconds": 7.5, "images_count": 2.0}
    assert reserved(redis_client, tenant.id) == {"images_count": 0.0, "tts_seconds": 2.5, "render_minutes": 0.5,
                                                 "storage_mb": 1.0}
    assert _floats(redis_client.hgetall("usage:resv:r1")) == {"images_count": 0.0, "tts_seconds": 2.5,
                                                               "render_minutes": 0.5, "storage_mb": 1.0}


def test_a_charge_above_the_estimate_never_makes_the_reservation_negative(session: Session,
                                                                          redis_client: redis.Redis) -> None:
    tenant = make_tenant(session)
    _admit(session, tenant.id, "r1", tts_seconds=5.0)
    quotas.apply_rows([_row(tenant.id, "r1", "speech", "tts_seconds", 8.0)])
    assert used_counters(redis_client, tenant.id) == {"tts_seconds": 8.0}
    assert reserved(redis_client, tenant.id)["tts_seconds"] == 0


def test_release_returns_what_was_not_used(session: Session, redis_client: redis.Redis) -> None:
    tenant = make_tenant(session)
    _admit(session, tenant.id, "r1", images_count=2.0, tts_seconds=10.0)
    quotas.apply_rows([_row(tenant.id, "r1", "speech", "tts_seconds", 4.0)])
    quotas.release(tenant_id=tenant.id, render_id="r1")
    quotas.release(tenant_id=tenant.id, render_id="r1")  # idempotent
    assert reserved(redis_client, tenant.id) == pytest.approx(ZERO)
    assert used_counters(redis_client, tenant.id) == {"tts_seconds": 4.0}
    assert not redis_client.exists("usage:resv:r1")
    assert redis_client.scard(f"usage:{tenant.id}:active") == 0 and redis_client.scard("usage:active") == 0


def test_a_failed_render_keeps_its_charges_and_releases_the_rest(session: Session, redis_client: redis.Redis) -> None:
    user = make_user(session)
    quotas.ensure_counters(session=session, tenant_id=tenant_id_of(user))  # as in create_render: admitted, committed
    render = make_render(session, user, status="running",
                         estimate_json=json.dumps({"images_count": 1.0, "tts_seconds": 6.0}))
    _admit(session, tenant_id_of(user), render.id, images_count=1.0, tts_seconds=6.0)
    ledger.record_usage(session=session, tenant_id=tenant_id_of(user), user_id=user.id, render_id=render.id,
                          step="speech", amounts={"tts_seconds": 2.5})
    session.commit()  # charged in the ledger, but the worker died before publishing it

    pipeline.fail_render(render_id=render.id, message="The video encoder failed.")

    session.refresh(render)
    assert render.status == "failed" and "encoder failed" in render.error
    assert used_counters(redis_client, tenant_id_of(user)) == {"tts_seconds": 2.5}
    assert reserved(redis_client, tenant_id_of(user)) == pytest.approx(ZERO)
    assert redis_client.scard(f"usage:{tenant_id_of(user)}:active") == 0
    _admit(session, tenant_id_of(user), "next", images_count=1.0)  # the concurrency slot is free again


def test_a_canceled_render_releases_its_reservation(session: Session, redis_client: redis.Redis) -> None:
    tenant = make_tenant(session)
    user = make_user(session, tenant)
    quotas.ensure_counters(session=session, tenant_id=tenant.id)
    render = make_render(session, user)
    _admit(session, tenant.id, render.id, images_count=1.0, tts_seconds=2.0)

    renders.cancel_render(session=session, principal=make_principal(user, tenant), render_id=render.id, ctx=CTX)

    session.refresh(render)
    assert render.status == "canceled"
    assert reserved(redis_client, tenant.id) == pytest.approx(ZERO)
    assert not redis_client.exists(f"usage:resv:{render.id}")
    assert redis_client.scard(f"usage:{tenant.id}:active") == 0 and redis_client.scard("usage:active") == 0


# Rebuilding from the ledger


def _ledger_with_unfinished_renders(session: Session):  # type: ignore[no-untyped-def]
    """A tenant with a finished render's charges, a running render half charged, a queued one and a failed one."""
    user = make_user(session)
    tid = tenant_id_of(user)
    done = make_render(session, user, status="succeeded")
    for metric, amount in {"images_count": 3.0, "tts_seconds": 12.0, "render_minutes": 0.25,
                           "storage_mb": 2.5}.items():
        make_usage(session, tid, metric, amount, render_id=done.id, event_key=ledger.event_key(done.id, "x", metric))
    running = make_render(session, user, status="running", estimate_json=json.dumps(
        {"images_count": 2.0, "tts_seconds": 10.0, "render_minutes": 0.2, "storage_mb": 1.0}))
    make_usage(session, tid, "tts_seconds", 4.0, render_id=running.id,
               event_key=ledger.event_key(running.id, "speech", "tts_seconds"))
    queued = make_render(session, user, status="queued", estimate_json=json.dumps({"images_count": 1.0}))
    make_render(session, user, status="failed", estimate_json=json.dumps({"images_count": 50.0}))
    return tid, running, queued


def _expect_rebuilt(client: redis.Redis, tid: str, running: Render, queued: Render) -> None:
    assert used_counters(client, tid) == {"images_count": 3.0, "tts_seconds": 16.0, "render_minutes": 0.25}
    assert float(client.hget(f"usage:{tid}:gauge", "storage_mb")) == 2.5
    assert reserved(client, tid) == {"images_count": 3.0, "tts_seconds": 6.0, "render_minutes": 0.2, "storage_mb": 1.0}
    assert _floats(client.hgetall(f"usage:resv:{running.id}")) == {
        "images_count": 2.0, "tts_seconds": 6.0, "render_minutes": 0.2, "storage_mb": 1.0}
    assert client.smembers(f"usage:{tid}:active") == {running.id, queued.id}
    assert {running.id, queued.id} <= client.smembers("usage:active")
    assert client.hget(f"usage:{tid}:gauge", "ready") == ledger.period_of()


def test_counters_lost_by_redis_are_rebuilt_on_first_use(session: Session, redis_client: redis.Redis) -> None:
    tid, running, queued = _ledger_with_unfinished_renders(session)
    redis_client.flushdb()
    quotas.ensure_counters(session=session, tenant_id=tid)
    _expect_rebuilt(redis_client, tid, running, queued)
    quotas.rebuild_counters(session=session, tenant_id=tid)  # merging again changes nothing
    quotas.ensure_counters(session=session, tenant_id=tid)
    _expect_rebuilt(redis_client, tid, running, queued)


def test_admission_after_a_redis_restart_sees_the_rebuilt_usage(session: Session, redis_client: redis.Redis,
                                                                app_settings) -> None:
    app_settings.set(QUOTA_IMAGES_COUNT=7)
    tenant = make_tenant(session, plan="pro")  # limit 35
    make_usage(session, tenant.id, "images_count", 30.0)
    _admit(session, tenant.id, "before", plan="pro", images_count=1.0)
    quotas.release(tenant_id=tenant.id, render_id="before")
    redis_client.flushdb()
    with pytest.raises(QuotaExceeded) as caught:
        _admit(session, tenant.id, "new", plan="pro", images_count=6.0)
    assert caught.value.used == 30
    _admit(session, tenant.id, "new", plan="pro", images_count=5.0)


def test_reconcile_restores_used_gauge_and_reservations(session: Session, redis_client: redis.Redis) -> None:
    tid, running, queued = _ledger_with_unfinished_renders(session)
    redis_client.flushdb()

    result = reconcile()

    assert result == {"tenants": 1, "requeued": 2}  # both unfinished renders lost their jobs
    _expect_rebuilt(redis_client, tid, running, queued)
    assert redis_client.exists(f"rq:job:{queue.render_job_id(running.id)}")


def test_reconcile_replaces_wrong_counters(session: Session, redis_client: redis.Redis) -> None:
    tid, running, queued = _ledger_with_unfinished_renders(session)
    quotas.ensure_counters(session=session, tenant_id=tid)
    redis_client.hset(f"usage:{tid}:{period_of()}", mapping={"images_count": 999, "tts_seconds": -5})
    redis_client.hset(f"usage:{tid}:resv", "images_count", 77)
    redis_client.sadd(f"usage:{tid}:active", "ghost")
    redis_client.sadd("usage:active", "ghost")

    reconcile(tenant_id=tid)

    _expect_rebuilt(redis_client, tid, running, queued)
    assert "ghost" not in redis_client.smembers("usage:active")


def test_the_usage_ledger_is_counted_once_per_event(session: Session) -> None:
    tenant = make_tenant(session)
    for _ in range(3):  # a retried step records the same event again
        rows = ledger.record_usage(session=session, tenant_id=tenant.id, user_id=None, render_id="r1",
                                     step="speech", amounts={"tts_seconds": 4.0})
        session.commit()
        assert len(rows) == 1
    count = len(session.exec(select(UsageRecord).where(UsageRecord.tenant_id == tenant.id)).all())
    assert count == 1
    assert ledger.sum_usage(session=session, tenant_id=tenant.id, period=period_of())["tts_seconds"] == 4.0


def test_a_step_that_charges_nothing_records_no_ledger_row(session: Session) -> None:
    """A step without charges of its own (e.g. the music step) leaves the ledger as it was."""
    tenant = make_tenant(session)
    rows = ledger.record_usage(session=session, tenant_id=tenant.id, user_id=None, render_id="r1",
                               step="music", amounts={})
    session.commit()
    assert rows == [] and not session.exec(select(UsageRecord).where(UsageRecord.tenant_id == tenant.id)).all()
