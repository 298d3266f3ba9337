"""Quota admission and fast usage counters in Redis (rebuildable from the ledger).

Admission reserves a job's estimated usage for every metric at once, in one Lua script,
so concurrent submissions can never admit more than the quota. Charges move amounts
from the reservation to the counters exactly once per ledger event; when the job ends
the rest of the reservation is released. See `quota_scripts` for the key layout.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import cast

import redis
from redis.commands.core import Script
from sqlmodel import Session, col, select

from saas_app import routes
from saas_app.models import Render, UsageRecord, utcnow
from saas_app.services.auth.principal import Principal
from saas_app.services.core import observability
from saas_app.services.core.errors import QuotaExceeded, RateLimited, ServiceUnavailable
from saas_app.services.core.redis_client import get_redis
from saas_app.services.renders.status import RenderStatus
from saas_app.services.teams.permissions import Action, require
from saas_app.services.usage import quota_scripts as lua
from saas_app.services.usage.fit import refusal_message
from saas_app.services.usage.ledger import list_counted_rows, list_render_rows, period_of, sum_usage
from saas_app.services.usage.metrics import METRICS, gauge_names, is_gauge
from saas_app.services.usage.plans import Plan, get_limits, get_plan
from saas_app.services.usage.views import MetricUsage, UsageSource, UsageSummary
from saas_app.settings import Settings, get_settings

log = logging.getLogger(__name__)
ACTIVE_STATUSES = list(RenderStatus.ACTIVE)
ADMITTED = "OK"  # the ADMIT script's status reply when the render was admitted
READY = "ready"  # field of the gauge hash: the counters were built from the ledger
GLOBAL_ACTIVE = "usage:active"  # unfinished render ids of every tenant (the global queue depth)
REDIS_DOWN = "Usage metering is briefly unavailable, so new renders are paused."


def _k(tenant_id: str, period: str) -> dict[str, str]:
    return {
        "used": f"usage:{tenant_id}:{period}", "gauge": f"usage:{tenant_id}:gauge",
        "resv": f"usage:{tenant_id}:resv", "active": f"usage:{tenant_id}:active", "global": GLOBAL_ACTIVE,
        "applied": f"usage:{tenant_id}:applied",
    }


def _render_resv(render_id: str) -> str:
    return f"usage:resv:{render_id}"


@functools.lru_cache(maxsize=16)
def _script_for(client: redis.Redis, source: str) -> Script:
    return client.register_script(source)


def _script(source: str) -> Script:
    """A registered Lua script (run by SHA; loaded again automatically after a Redis restart)."""
    return _script_for(get_redis(), source)


def upgrade_url() -> str:
    """Where over-quota users are sent."""
    return routes.absolute(routes.BILLING)


def reset_at(period: str) -> datetime:
    """When a monthly period's counters reset (start of next month, UTC)."""
    year, month = (int(x) for x in period.split("-"))
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def apply_rows(rows: list[UsageRecord]) -> int:
    """Add ledger rows to the Redis counters, each event exactly once.

    Returns:
        How many rows were newly applied.
    """
    applied = 0
    for row in rows:
        keys = _k(row.tenant_id, row.period)
        counter = keys["gauge"] if is_gauge(row.metric) else keys["used"]
        render_resv = _render_resv(row.render_id or "")
        applied += int(_script(lua.APPLY)(keys=[counter, keys["resv"], render_resv, keys["applied"]],
                                          args=[row.event_key, row.metric, row.amount]))
    return applied


def _held(estimate: dict[str, float], charged: list[UsageRecord]) -> dict[str, float]:
    held = dict(estimate)
    for row in charged:
        if row.metric in held:
            held[row.metric] = max(0.0, held[row.metric] - row.amount)
    return held


def rebuild_counters(*, session: Session, tenant_id: str, reset: bool = False) -> None:
    """Rebuild a tenant's counters and reservations from the ledger and unfinished renders.

    Without `reset` this merges (events already counted are skipped), which is safe while
    workers run; with `reset` the tenant's keys are dropped first (`make reconcile`).
    """
    period = period_of()
    keys = _k(tenant_id, period)
    r = get_redis()
    if reset:
        active_ids = cast(set[str], r.smembers(keys["active"]))
        r.delete(keys["used"], keys["gauge"], keys["resv"], keys["active"], keys["applied"],
                 *[_render_resv(rid) for rid in active_ids])
        if active_ids:
            r.srem(keys["global"], *active_ids)
    with session.no_autoflush:  # only committed renders hold reservations
        apply_rows(list_counted_rows(session=session, tenant_id=tenant_id, period=period))
        active = session.exec(select(Render).where(Render.tenant_id == tenant_id,
                                                   col(Render.status).in_(list(RenderStatus.ACTIVE)))).all()
        held_by = {r.id: _held(json.loads(r.estimate_json or "{}"), list_render_rows(session=session, render_id=r.id))
                   for r in active}
    for render_id, held in held_by.items():
        args: list[str | float] = [render_id]
        for metric, amount in held.items():
            args += [metric, amount]
        r.eval(lua.RESTORE, 4, keys["resv"], _render_resv(render_id), keys["active"], keys["global"], *args)
    r.hset(keys["gauge"], READY, period)


def ensure_counters(*, session: Session, tenant_id: str) -> None:
    """Build the tenant's counters if Redis lost them (e.g. after a restart)."""
    r = get_redis()
    gauge = _k(tenant_id, period_of())["gauge"]
    if r.hexists(gauge, READY):
        return
    lock = r.lock(f"usage:{tenant_id}:rebuild-lock", timeout=30, blocking_timeout=10)
    with lock:
        if not r.hexists(gauge, READY):
            rebuild_counters(session=session, tenant_id=tenant_id)


def ensure_all_counters(*, session: Session) -> int:
    """`ensure_counters` for every tenant with usage this month or an unfinished render (after
    Redis lost its data, so slots and reservations come back without waiting for a request).

    Returns:
        How many tenants were checked.
    """
    with session.no_autoflush:
        tenants = set(session.exec(select(UsageRecord.tenant_id).where(UsageRecord.period == period_of())
                                   .distinct()).all())
        tenants |= set(session.exec(select(Render.tenant_id).where(col(Render.status).in_(list(RenderStatus.ACTIVE)))
                                    .distinct()).all())
    for tenant_id in sorted(tenants):
        ensure_counters(session=session, tenant_id=tenant_id)
    return len(tenants)


def _pack_plan(plan_id: str, metrics: tuple[str, ...]) -> str:
    limits = get_limits(plan_id)
    return json.dumps([get_plan(plan_id).concurrency, get_settings().MAX_QUEUE_DEPTH,
                       *[-1 if limits[metric] is None else limits[metric] for metric in metrics]])


_packed_plans: dict[str, tuple[Settings, Plan, tuple[str, ...], str]] = {}


def _admit_args(render_id: str, plan_id: str, estimate: dict[str, float]) -> list[str]:
    """ARGV of the ADMIT script: the render id, the plan as "[concurrency, max_queue, limit, ...]"
    (-1 = unlimited) and the request as "[amount, ...]", metrics in METRICS order.

    The plan part is the same for every submission, so it is built once per plan and settings
    (a new settings object, plan definition or metric list builds it again).
    """
    settings, plan, metrics = get_settings(), get_plan(plan_id), METRICS.names()
    cached = _packed_plans.get(plan_id)
    if cached is None or cached[0] is not settings or cached[1] is not plan or cached[2] is not metrics:
        cached = _packed_plans[plan_id] = (settings, plan, metrics, _pack_plan(plan_id, metrics))
    return [render_id, cached[3], "[" + ",".join([repr(float(estimate.get(m, 0.0))) for m in metrics]) + "]"]


@functools.lru_cache(maxsize=4096)
def _admit_keys(tenant_id: str, period: str) -> tuple[str, ...]:
    """KEYS of the ADMIT script but the render's own: used, gauge, resv, then active, global."""
    keys = _k(tenant_id, period)
    return keys["used"], keys["gauge"], keys["resv"], keys["active"], keys["global"]


def admit(*, session: Session, tenant_id: str, plan_id: str, render_id: str, estimate: dict[str, float]) -> None:
    """Reserve a job's estimated usage, all metrics or none, before it is queued.

    Raises:
        QuotaExceeded: Over a monthly quota (402).
        RateLimited: Too many unfinished renders for the plan, or the global queue is full (429).
        ServiceUnavailable: Redis is down: fail closed, never admit unmetered work (503).
    """
    used_key, gauge_key, resv_key, active_key, global_key = _admit_keys(tenant_id, period_of())
    script_keys = [used_key, gauge_key, resv_key, _render_resv(render_id), active_key, global_key]
    script_args = _admit_args(render_id, plan_id, estimate)
    admit_script = _script(lua.admit_source(METRICS.names()))

    def run() -> list[str]:
        result = admit_script(keys=script_keys, args=script_args)
        return ["ok"] if result == ADMITTED else [str(x) for x in result]

    try:
        outcome = run()  # one round trip in the common case
        if outcome[0] == "not_ready":  # Redis lost the counters: rebuild them from the ledger, then retry
            ensure_counters(session=session, tenant_id=tenant_id)
            outcome = run()
        if outcome[0] not in ("ok", "not_ready") and release_ended(  # a lost release must not refuse anyone
                session=session, render_ids=cast(set[str], get_redis().smembers(active_key))):
            outcome = run()
    except redis.RedisError as exc:
        log.warning("admission refused, redis unavailable: %s", exc)
        observability.count_admission("unavailable")
        raise ServiceUnavailable(REDIS_DOWN, retry_after=10) from exc
    _count_admission(outcome, estimate)
    if outcome[0] == "ok":
        return
    if outcome[0] == "not_ready":
        raise ServiceUnavailable(REDIS_DOWN, retry_after=2)
    if outcome[0] == "quota":
        metric, used, limit, req = outcome[1], float(outcome[2]), float(outcome[3]), float(outcome[4])
        raise QuotaExceeded(
            refusal_message(metric, used=used, limit=limit, requested=req),
            metric=metric, used=round(used, 3), limit=limit, requested=round(req, 3), upgrade_url=upgrade_url())
    count, maximum = int(outcome[1]), int(outcome[2])
    eta = 30 * max(1, count - maximum + 1)
    if outcome[0] == "concurrency":
        videos = f"{maximum} video{'' if maximum == 1 else 's'}"
        raise RateLimited(f"Your plan makes {videos} at a time and {count} "
                          f"{'is' if count == 1 else 'are'} in progress; upgrade for more.", retry_after=eta)
    raise RateLimited(f"We're very busy right now ({count} renders waiting).", retry_after=eta)


def _count_admission(outcome: list[str], estimate: dict[str, float]) -> None:
    kind = {"ok": "admitted", "quota": "quota_exceeded", "concurrency": "concurrency",
            "not_ready": "unavailable"}.get(outcome[0], "queue_full")
    metrics = tuple(estimate) if kind == "admitted" else (outcome[1],) if kind == "quota_exceeded" else ()
    observability.count_admission(kind, metrics)


def release_ended(*, session: Session, render_ids: Iterable[str], ended_before: datetime | None = None) -> int:
    """Count and release what renders that already ended still hold (their release was lost to a
    Redis error). Safe to run beside the worker: charges apply once and a second release is a no-op.

    Args:
        render_ids: Renders Redis still counts as unfinished.
        ended_before: Only renders that ended before this (None: all), so the worker has had time
            to release them itself.

    Returns:
        How many ended renders were released.
    """
    held = list(render_ids)
    if not held:
        return 0
    query = select(Render.id, Render.tenant_id).where(col(Render.id).in_(held),
                                                      col(Render.status).notin_(ACTIVE_STATUSES))
    if ended_before is not None:
        query = query.where(col(Render.finished_at) < ended_before)
    with session.no_autoflush:  # a render being submitted in this session is not ended
        ended = session.exec(query).all()
    for render_id, tenant_id in ended:
        apply_rows(list_render_rows(session=session, render_id=render_id))  # charges a Redis blip missed
        release(tenant_id=tenant_id, render_id=render_id)
    return len(ended)


def release_all_ended(*, session: Session, grace: timedelta = timedelta(minutes=1)) -> int:
    """`release_ended` for every tenant, for renders that ended over `grace` ago (the maintenance
    pass runs it once a minute; the worker releases as a render ends, so that is all it finds)."""
    return release_ended(session=session, render_ids=cast(set[str], get_redis().smembers(GLOBAL_ACTIVE)),
                         ended_before=utcnow() - grace)


def reservations_held() -> int:
    """How many renders hold a reservation now (admitted and not yet wound up), across tenants.

    Raises:
        redis.RedisError: Redis cannot be reached.
    """
    return int(cast(int, get_redis().scard(GLOBAL_ACTIVE)))


def release(*, tenant_id: str, render_id: str) -> None:
    """Give back what a finished (or failed, or canceled) render did not use."""
    keys = _k(tenant_id, period_of())
    _script(lua.RELEASE)(keys=[keys["resv"], _render_resv(render_id), keys["active"], keys["global"]],
                         args=[render_id])


def get_usage(*, session: Session, principal: Principal) -> UsageSummary:
    """The caller's workspace's usage this month against its plan (`get_usage_summary`).

    Raises:
        Forbidden: The caller's role may not see usage.
    """
    require(principal, Action.USAGE_VIEW)
    return get_usage_summary(session=session, tenant_id=principal.tenant_id, plan_id=principal.plan)


def get_usage_summary(*, session: Session, tenant_id: str, plan_id: str) -> UsageSummary:
    """`GET /api/usage`: this month's usage against the plan's limits."""
    period = period_of()
    keys = _k(tenant_id, period)
    source: UsageSource = "counters"
    try:
        ensure_counters(session=session, tenant_id=tenant_id)
        r = get_redis()
        used = {m: float(v) for m, v in cast(dict[str, str], r.hgetall(keys["used"])).items()}
        gauges = gauge_names()
        levels = cast(list[str | None], r.hmget(keys["gauge"], list(gauges))) if gauges else []
        for metric, level in zip(gauges, levels, strict=True):
            used[metric] = float(level or 0)
    except redis.RedisError as exc:  # the ledger answers (slower) while Redis is away
        log.warning("usage from the ledger, redis unavailable: %s", exc)
        used, source = sum_usage(session=session, tenant_id=tenant_id, period=period), "ledger"
    limits = get_limits(plan_id)
    metrics: dict[str, MetricUsage] = {}
    for metric in METRICS.names():
        value = round(max(0.0, used.get(metric, 0.0)), 3)
        limit = limits[metric]
        metrics[metric] = MetricUsage(
            used=value, limit=limit,
            percent=None if not limit else round(min(100.0, 100 * value / limit), 1),
            remaining=None if limit is None else round(max(0.0, limit - value), 3),
        )
    return UsageSummary(period=period, plan=get_plan(plan_id).id, reset_at=reset_at(period), metrics=metrics,
                        source=source)


def forget_tenant(*, tenant_id: str, render_ids: Iterable[str]) -> None:
    """Drop every counter, reservation and concurrency slot of a tenant (account deletion).

    Args:
        tenant_id: The tenant being purged.
        render_ids: Every render the tenant had (their own reservations go too).
    """
    ids = list(render_ids)
    r = get_redis()
    keys = [*r.scan_iter(match=f"usage:{tenant_id}:*", count=500), *[_render_resv(rid) for rid in ids]]
    if keys:
        r.delete(*keys)
    if ids:
        r.srem(GLOBAL_ACTIVE, *ids)
