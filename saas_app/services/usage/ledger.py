"""The usage ledger: SQL rows (source of truth) plus the immutable JSONL log.

Each metered step writes one row per metric with a unique `event_key`, inserted with
insert-or-ignore semantics, so a retried step can never be charged twice.
"""

from __future__ import annotations

import calendar
import json
import logging
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, func, select

from saas_app.models import UsageRecord, utcnow
from saas_app.services.usage.metrics import gauge_names, monthly_names
from saas_app.settings import get_settings

log = logging.getLogger(__name__)


_month_cache: tuple[float, float, str] = (0.0, 0.0, "")  # (month start, next month start, "YYYY-MM")


def period_of(moment: datetime | None = None) -> str:
    """The calendar month (UTC) of a moment (default: now), as `YYYY-MM`.

    "Now" is answered from a cache valid until the month ends, because every admission asks.
    """
    global _month_cache
    if moment is not None:
        return moment.strftime("%Y-%m")
    now = time.time()
    start, end, period = _month_cache
    if start <= now < end:
        return period
    t = time.gmtime(now)
    start = calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0))
    end = calendar.timegm((t.tm_year + t.tm_mon // 12, t.tm_mon % 12 + 1, 1, 0, 0, 0))
    _month_cache = (start, end, f"{t.tm_year:04d}-{t.tm_mon:02d}")
    return _month_cache[2]


def event_key(render_id: str, step: str, metric: str) -> str:
    """The unique key of one metered step's metric."""
    return f"render:{render_id}:{step}:{metric}"


def _insert_ignore(session: Session, values: list[dict[str, object]]) -> None:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(UsageRecord).values(values).on_conflict_do_nothing(index_elements=["event_key"])
    session.exec(stmt)


def record_usage(
    *, session: Session, tenant_id: str, user_id: str | None, render_id: str, step: str,
    amounts: dict[str, float],
) -> list[UsageRecord]:
    """Insert one ledger row per metric (ignored when the event key already exists).

    Returns:
        The ledger rows for these event keys (new or pre-existing); none for no amounts (a step
        that charges nothing).
    """
    keys = {m: event_key(render_id, step, m) for m in amounts}
    return _record(session, tenant_id, user_id, render_id, keys, amounts)


def asset_event_key(asset_id: str, action: str, metric: str) -> str:
    """The unique key of what an uploaded asset's upload or deletion ("upload", "delete") counts."""
    return f"asset:{asset_id}:{action}:{metric}"


def record_asset_usage(
    *, session: Session, tenant_id: str, user_id: str | None, asset_id: str, action: str, amounts: dict[str, float],
) -> list[UsageRecord]:
    """Insert the ledger rows of an asset's upload or deletion (no render; once per event key).

    Returns:
        The ledger rows for these event keys (new or pre-existing).
    """
    keys = {m: asset_event_key(asset_id, action, m) for m in amounts}
    return _record(session, tenant_id, user_id, None, keys, amounts)


def _record(session: Session, tenant_id: str, user_id: str | None, render_id: str | None, keys: dict[str, str],
            amounts: dict[str, float]) -> list[UsageRecord]:
    if not amounts:
        return []
    now = utcnow()
    _insert_ignore(session, [
        {"tenant_id": tenant_id, "user_id": user_id, "render_id": render_id, "metric": m, "amount": float(a),
         "period": period_of(now), "event_key": keys[m], "created_at": now}
        for m, a in amounts.items()
    ])
    return list(session.exec(select(UsageRecord).where(col(UsageRecord.event_key).in_(list(keys.values())))).all())


def usage_log_path(tenant_id: str, period: str) -> Path:
    """Where a tenant's month of ledger lines is appended."""
    return Path(get_settings().USAGE_LOG_DIR) / tenant_id / f"{period}.jsonl"


def append_to_log(*, session: Session, rows: list[UsageRecord]) -> int:
    """Append ledger rows not yet logged to the JSONL log, then mark them logged.

    A line is written before its row is marked, so a crash in between can repeat a line;
    readers treat `event_key` as unique.

    Returns:
        How many lines were written.
    """
    written = 0
    for row in rows:
        if row.logged_at is not None:
            continue
        path = usage_log_path(row.tenant_id, row.period)
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({
            "event_key": row.event_key, "tenant_id": row.tenant_id, "user_id": row.user_id,
            "render_id": row.render_id, "metric": row.metric, "amount": row.amount, "period": row.period,
            "created_at": row.created_at.isoformat(),
        }, sort_keys=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        session.exec(update(UsageRecord).where(col(UsageRecord.id) == row.id).values(logged_at=utcnow()))
        written += 1
    return written


def sum_usage(*, session: Session, tenant_id: str, period: str) -> dict[str, float]:
    """Ledger totals: the month's monthly metrics plus the all-time level of each gauge."""
    monthly, gauges = monthly_names(), gauge_names()
    totals = dict.fromkeys((*monthly, *gauges), 0.0)
    for metric, amount in session.exec(
        select(UsageRecord.metric, func.sum(UsageRecord.amount))
        .where(UsageRecord.tenant_id == tenant_id, UsageRecord.period == period,
               col(UsageRecord.metric).in_(monthly))
        .group_by(UsageRecord.metric)
    ).all():
        totals[metric] = float(amount or 0)
    for metric, amount in session.exec(
        select(UsageRecord.metric, func.sum(UsageRecord.amount))
        .where(UsageRecord.tenant_id == tenant_id, col(UsageRecord.metric).in_(gauges))
        .group_by(UsageRecord.metric)
    ).all():
        totals[metric] = max(0.0, float(amount or 0))
    return totals


def list_counted_rows(*, session: Session, tenant_id: str, period: str) -> list[UsageRecord]:
    """The rows that make up the tenant's counters: this month's monthly metrics and every gauge row."""
    return list(session.exec(
        select(UsageRecord).where(
            UsageRecord.tenant_id == tenant_id,
            col(UsageRecord.metric).in_(gauge_names())
            | ((col(UsageRecord.period) == period) & col(UsageRecord.metric).in_(monthly_names())),
        )
    ).all())


def list_render_rows(*, session: Session, render_id: str) -> list[UsageRecord]:
    """Every ledger row charged to one render."""
    return list(session.exec(select(UsageRecord).where(UsageRecord.render_id == render_id)).all())
