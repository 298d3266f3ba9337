"""Turning service values into short display strings (no I/O)."""

from __future__ import annotations

from datetime import datetime

from saas_app.services.account.status import ExportStatus
from saas_app.services.billing.status import SubscriptionStatus
from saas_app.services.renders.status import RenderStatus, StepStatus
from saas_app.services.usage.metrics import METRICS, Metric
from saas_app.services.usage.views import UsageSummary

WARN_PERCENT = 90.0

# Colour scheme of each render status's badge (any other status: gray).
RENDER_STATUS_COLORS = ((RenderStatus.RUNNING, "blue"), (RenderStatus.SUCCEEDED, "green"),
                        (RenderStatus.FAILED, "red"), (RenderStatus.CANCELED, "amber"))
# What users read for each render status.
RENDER_STATUS_LABELS = ((RenderStatus.QUEUED, "Waiting…"), (RenderStatus.RUNNING, "Rendering…"),
                        (RenderStatus.SUCCEEDED, "Ready"), (RenderStatus.FAILED, "Failed"),
                        (RenderStatus.CANCELED, "Canceled"))
# The icon of each finished step status; a running step shows a spinner, a pending one a circle.
STEP_RUNNING = StepStatus.RUNNING
STEP_ICONS = ((StepStatus.DONE, "circle-check"), (StepStatus.FAILED, "circle-x"), (StepStatus.CANCELED, "circle-slash"))
EXPORT_PENDING = ExportStatus.QUEUED  # an export still being built: the page offers "Check again"
# Colour scheme of each subscription status's badge on the billing page (any other: green).
SUBSCRIPTION_STATUS_COLORS = ((SubscriptionStatus.PAST_DUE, "orange"), (SubscriptionStatus.CANCELED, "red"),
                              (SubscriptionStatus.TRIALING, "blue"))


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:,.1f}"


def _metric(name: str) -> Metric | None:
    return METRICS.find(name)


def charge_text(metric: str, value: float) -> str:
    """One item of a render's "Charged:" line, e.g. "3.1 s of narration" or "1 image"."""
    found = _metric(metric)
    return found.charged.format(found.text(value)) if found else f"{_num(value)} {metric}"


def estimate_text(metric: str, value: float) -> str:
    """One item of the create page's estimate, e.g. "about 12 s of narration"."""
    found = _metric(metric)
    return found.estimated.format(found.text(value)) if found else f"{_num(value)} {metric}"


def format_amount(metric: str, value: float | None) -> str:
    """A metric amount in the unit users think in ("unlimited" for no limit)."""
    found = _metric(metric)
    if found is not None:
        return found.format(value)
    return "unlimited" if value is None else _num(value)


def plan_quota_text(limits: dict[str, float | None]) -> str:
    """A plan card's quota line under the banner's metric names, e.g. "Images 30 · Speech 25 min a month"
    (or "Unlimited usage"); levels such as storage follow after a semicolon."""
    monthly = [f"{m.label} {m.format(limits[m.name])}" for m in METRICS if not m.gauge and limits.get(m.name)]
    levels = [f"{m.label} {m.format(limits[m.name])}" for m in METRICS if m.gauge and limits.get(m.name)]
    if not monthly and not levels:
        return "Unlimited usage"
    line = f"{' · '.join(monthly)} a month" if monthly else ""
    return "; ".join(part for part in (line, " · ".join(levels)) if part)


def usage_rows(summary: UsageSummary) -> list[dict[str, str]]:
    """Banner rows: label, "used / limit", percent and a colour (purple, orange >= 90 %, red at 100 %)."""
    rows = []
    for metric, info in summary.metrics.items():
        percent = info.percent or 0.0
        color = "red" if percent >= 100 else ("orange" if percent >= WARN_PERCENT else "violet")
        rows.append({
            "metric": metric, "label": METRICS.get(metric).label, "color": color, "percent": str(percent),
            "value": f"{format_amount(metric, info.used)} / {format_amount(metric, info.limit)}",
            "width": f"{min(100.0, percent):.1f}%",
        })
    return rows


def format_duration(seconds: float) -> str:
    """`1:05` style, in whole seconds counted down as a video player does (8.9 s is 0:08)."""
    total = int(seconds + 1e-6)
    return f"{total // 60}:{total % 60:02d}"


def format_elapsed(seconds: float) -> str:
    """How long something took: "4 s", "1 min 5 s" (whole seconds, at least 1)."""
    total = max(1, int(round(seconds)))
    minutes, rest = divmod(total, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def format_date(moment: datetime | str | None) -> str:
    """`21 Nov 2026, 10:53 UTC` (from a datetime or ISO 8601 text; "" for None)."""
    if not moment:
        return ""
    return (datetime.fromisoformat(moment) if isinstance(moment, str) else moment).strftime("%d %b %Y, %H:%M UTC")
