"""Typed views of usage: this month's amounts against the plan's limits."""

from __future__ import annotations

from typing import Literal

from saas_app.services.core.views import IsoDatetime, View

UsageSource = Literal["counters", "ledger"]  # the Redis counters, or the SQL ledger while Redis is away


class MetricUsage(View):
    """One metric this month: amount used, the limit (None = unlimited), percent used and what remains."""

    used: float
    limit: float | None
    percent: float | None
    remaining: float | None


class UsageSummary(View):
    """`GET /api/usage`: the month (`YYYY-MM`), the plan, when counters reset, each metric.

    `source` says where the amounts came from: the Redis counters, or the SQL ledger while
    Redis is away.
    """

    period: str
    plan: str
    reset_at: IsoDatetime
    metrics: dict[str, MetricUsage]
    source: UsageSource
