"""Turning service values into short display strings (no I/O)."""

from __future__ import annotations

from datetime import datetime

from saas_app.services.usage.plans import METRIC_LABELS, images_text
from saas_app.services.usage.views import UsageSummary

WARN_PERCENT = 90.0
_CHARGE_LABELS = {"tts_seconds": "of narration", "render_minutes": "rendered", "storage_mb": "stored"}


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:,.1f}"


def charge_text(metric: str, value: float) -> str:
    """One item of a render's "Charged:" line, e.g. "3.1 s of narration" or "1 image"."""
    if metric == "images_count":
        return images_text(value)
    return f"{format_amount(metric, value)} {_CHARGE_LABELS.get(metric, metric)}"


def format_amount(metric: str, value: float | None) -> str:
    """A metric amount in the unit users think in."""
    if value is None:
        return "unlimited"
    if metric == "tts_seconds":
        return f"{_num(value)} s" if 0 < value < 60 else f"{_num(value / 60)} min"
    if metric == "render_minutes":
        return f"{_num(value)} min"
    if metric == "storage_mb":
        if 0 < value < 1:
            return f"{_num(value * 1024)} KB"
        return f"{_num(value / 1024)} GB" if value >= 1024 else f"{_num(value)} MB"
    return _num(value)


def usage_rows(summary: UsageSummary) -> list[dict[str, str]]:
    """Banner rows: label, "used / limit", percent and a colour (purple, orange >= 90 %, red at 100 %)."""
    rows = []
    for metric, info in summary.metrics.items():
        percent = info.percent or 0.0
        color = "red" if percent >= 100 else ("orange" if percent >= WARN_PERCENT else "violet")
        rows.append({
            "metric": metric, "label": METRIC_LABELS[metric], "color": color, "percent": str(percent),
            "value": f"{format_amount(metric, info.used)} / {format_amount(metric, info.limit)}",
            "width": f"{min(100.0, percent):.1f}%",
        })
    return rows


def format_duration(seconds: float) -> str:
    """`1:05` style."""
    total = int(round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def format_date(moment: datetime | str | None) -> str:
    """`21 Nov 2026, 10:53 UTC` (from a datetime or ISO 8601 text; "" for None)."""
    if not moment:
        return ""
    return (datetime.fromisoformat(moment) if isinstance(moment, str) else moment).strftime("%d %b %Y, %H:%M UTC")
