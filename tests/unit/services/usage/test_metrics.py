"""The metric catalogue: what a metric may be called, where its quota comes from, how amounts read."""

from __future__ import annotations

import pytest

from saas_app.services.usage.metrics import (
    METRICS,
    STORAGE,
    Count,
    Megabytes,
    Metric,
    Minutes,
    Seconds,
    gauge_names,
    is_gauge,
    monthly_names,
)


def test_every_metric_reads_its_quota_from_a_setting_and_is_monthly_or_a_gauge() -> None:
    assert set(monthly_names()) | set(gauge_names()) == set(METRICS.names())
    assert not set(monthly_names()) & set(gauge_names())
    assert is_gauge(STORAGE.name) and not is_gauge("no_such_metric")


@pytest.mark.parametrize(("metric", "reason"), [
    (Metric("Bad-Name", "Bad", Count("x", "xs"), "QUOTA_IMAGES_COUNT"), "lowercase"),
    (Metric("x' .. redis.call('FLUSHALL') .. '", "Lua", Count("x", "xs"), "QUOTA_IMAGES_COUNT"), "lowercase"),
    (Metric("gifs", "GIFs", Count("gif", "gifs"), "QUOTA_GIFS"), "no setting named 'QUOTA_GIFS'"),
])
def test_a_metric_must_have_a_safe_name_and_a_real_quota_setting(metric: Metric, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        METRICS.add(metric)
    assert metric.name not in METRICS


def test_a_new_metric_is_split_into_monthly_or_gauge_at_once() -> None:
    level = Metric("cache_mb", "Cache", Megabytes(), "QUOTA_STORAGE_MB", gauge=True)
    with METRICS.extended(level):
        assert "cache_mb" in gauge_names() and is_gauge("cache_mb")
    assert "cache_mb" not in gauge_names()


@pytest.mark.parametrize(("unit", "value", "short", "text"), [
    (Count("frame", "frames"), 1, "1", "1 frame"),
    (Count("frame", "frames"), 1234, "1,234", "1,234 frames"),
    (Seconds(), 42, "42 s", "42 s"),
    (Seconds(), 90, "1.5 min", "1.5 min"),
    (Minutes(), 2.5, "2.5 min", "2.5 min"),
    (Minutes(), 0.5, "30 s", "30 s"),  # the same style as speech seconds
    (Megabytes(), 0.5, "512 KB", "512 KB"),
    (Megabytes(), 2048, "2 GB", "2 GB"),
])
def test_units_decide_how_amounts_read(unit, value: float, short: str, text: str) -> None:  # type: ignore[no-untyped-def]
    assert (unit.short(value), unit.text(value)) == (short, text)
