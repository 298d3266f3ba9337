"""The plan catalogue: the one place plans, quotas and concurrency are defined."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from saas_app.settings import get_settings

METRICS = ("images_count", "tts_seconds", "render_minutes", "storage_mb")
MONTHLY_METRICS = ("images_count", "tts_seconds", "render_minutes")  # storage_mb is a gauge
METRIC_LABELS = {
    "images_count": "Images", "tts_seconds": "Speech", "render_minutes": "Render minutes", "storage_mb": "Storage",
}


def images_text(count: float) -> str:
    """An amount of the images metric in words: "1 image", "3 images"."""
    return f"{count:,.0f} image" if count == 1 else f"{count:,.0f} images"


@dataclass(frozen=True)
class Plan:
    """A plan: price shown, quota multiplier (None = unlimited), concurrency, features."""

    id: str
    name: str
    price_monthly: int
    quota_multiplier: float | None
    concurrency: int
    premium: bool
    features: tuple[str, ...] = field(default_factory=tuple)


PLANS: dict[str, Plan] = {
    p.id: p
    for p in [
        Plan("free", "Free", 0, 1, 1, False,
             ("Base monthly quota", "1 render at a time", "720p output", "3 templates")),
        Plan("pro", "Pro", 29, 5, 3, True,
             ("5x the base quota", "3 renders at a time", "1080p output", "Premium templates")),
        Plan("enterprise", "Enterprise", 299, None, 10, True,
             ("Unlimited usage", "10 renders at a time", "1080p output", "Premium templates")),
    ]
}
DEFAULT_PLAN = "free"


def get_plan(plan_id: str | None) -> Plan:
    """The plan by id (unknown ids fall back to Free)."""
    return PLANS.get(plan_id or DEFAULT_PLAN, PLANS[DEFAULT_PLAN])


def base_quotas() -> dict[str, float]:
    """The Free plan's monthly quotas, from settings."""
    s = get_settings()
    return {"images_count": s.QUOTA_IMAGES_COUNT, "tts_seconds": s.QUOTA_TTS_SECONDS,
            "render_minutes": s.QUOTA_RENDER_MINUTES, "storage_mb": s.QUOTA_STORAGE_MB}


def get_limits(plan_id: str | None) -> dict[str, float | None]:
    """Each metric's limit under a plan (None = unlimited)."""
    plan = get_plan(plan_id)
    if plan.quota_multiplier is None:
        return {m: None for m in METRICS}
    return {m: v * plan.quota_multiplier for m, v in base_quotas().items()}


def price_id_for(plan_id: str) -> str:
    """The Stripe price sold for a paid plan ("" for Free or when unset)."""
    s = get_settings()
    return {"pro": s.STRIPE_PRICE_PRO, "enterprise": s.STRIPE_PRICE_ENTERPRISE}.get(plan_id, "")


def plan_for_price(price_id: str) -> str:
    """The plan a Stripe price belongs to (Free when unknown)."""
    for plan_id in ("pro", "enterprise"):
        if price_id and price_id == price_id_for(plan_id):
            return plan_id
    return DEFAULT_PLAN


def effective_plan_id(plan_id: str, grace_until: datetime | None, now: datetime) -> str:
    """The plan in force: a past-due plan holds until its grace period ends, then Free."""
    if grace_until is not None and now >= grace_until:
        return DEFAULT_PLAN
    return get_plan(plan_id).id
