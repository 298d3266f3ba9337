"""The metered metrics: the one place a metric's name, label, unit, display and quota are defined.

Plans, admission (the Lua script's metric list), the usage banner, the create page's estimate,
the render's charge line, the plan cards and exports read `METRICS`. Adding a metric is one
`METRICS.add(Metric(...))` line below plus its base-quota setting in `settings.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from saas_app.services.core.registry import Registry
from saas_app.settings import Settings

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # stored in the ledger and read by the Lua script


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:,.1f}"


@dataclass(frozen=True)
class Count:
    """Whole things: "3" in the banner, "3 images" in sentences."""

    singular: str
    plural: str

    @property
    def name(self) -> str:
        """The unit's name (exports): the plural noun."""
        return self.plural

    def short(self, value: float) -> str:
        """The amount alone (the banner shows "3 / 500")."""
        return _num(value)

    def text(self, value: float) -> str:
        """The amount with its noun: "1 image", "3 images"."""
        return f"{value:,.0f} {self.singular if value == 1 else self.plural}"


@dataclass(frozen=True)
class Seconds:
    """A duration kept in seconds, shown in seconds under a minute and in minutes above."""

    name: str = "seconds"

    def short(self, value: float) -> str:
        """`3.1 s`, `2.5 min`."""
        return f"{_num(value)} s" if 0 < value < 60 else f"{_num(value / 60)} min"

    text = short


@dataclass(frozen=True)
class Minutes:
    """A duration kept and shown in minutes."""

    name: str = "minutes"

    def short(self, value: float) -> str:
        """Shown like `Seconds` (one style for every duration): `30 s`, `2.5 min`."""
        return Seconds().short(value * 60)

    text = short


@dataclass(frozen=True)
class Megabytes:
    """A size kept in MB (1024 KB), shown in KB, MB or GB."""

    name: str = "MB"

    def short(self, value: float) -> str:
        """`512 KB`, `12 MB`, `1.5 GB`."""
        if 0 < value < 1:
            return f"{_num(value * 1024)} KB"
        return f"{_num(value / 1024)} GB" if value >= 1024 else f"{_num(value)} MB"

    text = short


Unit = Count | Seconds | Minutes | Megabytes


@dataclass(frozen=True)
class Metric:
    """One metered quantity.

    Attributes:
        name: The key in the ledger, the API and Redis (e.g. "tts_seconds").
        label: What users call it ("Speech"), in the banner and in quota messages.
        unit: How amounts are shown.
        quota_setting: The setting holding the base (Free plan) monthly quota.
        charged: The render's "Charged:" line, `{}` being the amount ("{} of narration").
        estimated: The create page's estimate ("about {} of narration").
        gauge: A level that goes up and down (storage) instead of a monthly count.
    """

    name: str
    label: str
    unit: Unit
    quota_setting: str
    charged: str = "{}"
    estimated: str = "{}"
    gauge: bool = False

    def format(self, value: float | None) -> str:
        """An amount in the unit users think in ("unlimited" for a missing limit)."""
        return "unlimited" if value is None else self.unit.short(value)

    def text(self, value: float) -> str:
        """An amount in a sentence ("3 images", "2.5 min")."""
        return self.unit.text(value)

    def base_quota(self, settings: Settings) -> float:
        """The Free plan's monthly quota."""
        quota: float = getattr(settings, self.quota_setting)
        return quota


def _check(metric: Metric) -> None:
    if not _NAME.match(metric.name):
        raise ValueError(f"metric name {metric.name!r} must be lowercase letters, digits and _")
    if metric.quota_setting not in Settings.model_fields:
        raise ValueError(f"metric {metric.name!r}: no setting named {metric.quota_setting!r}")


METRICS: Registry[Metric] = Registry("metric", check=_check)
IMAGES = METRICS.add(Metric("images_count", "Images", Count("image", "images"), "QUOTA_IMAGES_COUNT"))
SPEECH = METRICS.add(Metric("tts_seconds", "Speech", Seconds(), "QUOTA_TTS_SECONDS",
                            charged="{} of narration", estimated="about {} of narration"))
RENDER_MINUTES = METRICS.add(Metric("render_minutes", "Render minutes", Minutes(), "QUOTA_RENDER_MINUTES",
                                    charged="{} rendered", estimated="{} of rendering"))
STORAGE = METRICS.add(Metric("storage_mb", "Storage", Megabytes(), "QUOTA_STORAGE_MB",
                             charged="{} stored", estimated="up to {} of storage", gauge=True))

_split: tuple[int, tuple[str, ...], tuple[str, ...]] = (-1, (), ())


def _monthly_and_gauges() -> tuple[tuple[str, ...], tuple[str, ...]]:
    global _split
    if _split[0] != METRICS.version:
        _split = (METRICS.version, tuple(m.name for m in METRICS if not m.gauge),
                  tuple(m.name for m in METRICS if m.gauge))
    return _split[1], _split[2]


def monthly_names() -> tuple[str, ...]:
    """Metrics counted per calendar month (reset on the 1st), in order."""
    return _monthly_and_gauges()[0]


def gauge_names() -> tuple[str, ...]:
    """Metrics that are levels (never reset), in order."""
    return _monthly_and_gauges()[1]


def is_gauge(name: str) -> bool:
    """Whether a metric is a level rather than a monthly count (unknown names count monthly)."""
    return name in _monthly_and_gauges()[1]


def base_quotas(settings: Settings) -> dict[str, float]:
    """Every metric's base (Free plan) monthly quota."""
    return {m.name: m.base_quota(settings) for m in METRICS}
