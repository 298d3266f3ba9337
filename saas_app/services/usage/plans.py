"""The plan catalogue: the one place plans, their quotas, concurrency, prices and features are defined.

Adding a plan is one `PLANS.add(Plan(...))` line below (in the order the plan cards show them)
plus, for a plan sold through Stripe, its price setting in `settings.py` and `.env.example`.
Quotas, admission, checkout, the Stripe price mapping, the plan cards and the API read `PLANS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from saas_app.services.core.registry import Registry
from saas_app.services.usage.metrics import METRICS, base_quotas
from saas_app.settings import Settings, get_settings


@dataclass(frozen=True)
class Plan:
    """A plan.

    Attributes:
        id: Stored on the tenant and sent to Checkout ("pro").
        name: What users see ("Pro").
        price_monthly: The price shown on the plan card, in whole dollars (0 = free).
        quota_multiplier: Times the base monthly quotas (None = unlimited).
        concurrency: Renders that may be unfinished at once.
        premium: Whether premium options (1080p, premium templates) are included.
        features: The plan card's feature lines.
        price_setting: The setting holding its Stripe price id; None for a plan that is not sold.
        seats: How many members a workspace on it may have, pending invitations included
            (None = unlimited).
    """

    id: str
    name: str
    price_monthly: int
    quota_multiplier: float | None
    concurrency: int
    premium: bool
    features: tuple[str, ...] = field(default_factory=tuple)
    price_setting: str | None = None
    seats: int | None = 1


def _plan_id(plan: Plan) -> str:
    return plan.id


PLANS: Registry[Plan] = Registry("plan", key=_plan_id)
FREE = PLANS.add(Plan("free", "Free", 0, 1, 1, False,
                      ("Base monthly quota", "1 video at a time", "720p output", "3 templates", "1 seat"),
                      seats=1))
PLANS.add(Plan("pro", "Pro", 29, 5, 3, True,
               ("5x the base quota", "3 videos at a time", "1080p output", "Premium templates", "5 seats"),
               price_setting="STRIPE_PRICE_PRO", seats=5))
PLANS.add(Plan("enterprise", "Enterprise", 299, None, 10, True,
               ("Unlimited usage", "10 videos at a time", "1080p output", "Premium templates", "Unlimited seats"),
               price_setting="STRIPE_PRICE_ENTERPRISE", seats=None))


def get_plan(plan_id: str | None) -> Plan:
    """The plan by id (unknown ids fall back to Free, the plan a lapsed subscription ends on)."""
    return PLANS.find(plan_id) or FREE


def default_plan_id() -> str:
    """The plan a new workspace starts on (`TENANT_DEFAULT_PLAN`)."""
    return get_settings().TENANT_DEFAULT_PLAN


def sold_plans() -> list[Plan]:
    """The plans sold through Stripe Checkout, in catalogue order."""
    return [p for p in PLANS if p.price_setting is not None]


def first_premium_plan() -> Plan:
    """The cheapest plan with premium options (the one "upgrade to use it" messages name)."""
    return next(plan for plan in PLANS if plan.premium)


def is_paid(plan_id: str | None) -> bool:
    """Whether a plan is one that is sold (a workspace on it has, or had, a subscription)."""
    return get_plan(plan_id).price_setting is not None


def get_limits(plan_id: str | None) -> dict[str, float | None]:
    """Each metric's monthly limit under a plan (None = unlimited)."""
    plan = get_plan(plan_id)
    if plan.quota_multiplier is None:
        return dict.fromkeys(METRICS.names())
    return {m: v * plan.quota_multiplier for m, v in base_quotas(get_settings()).items()}


def price_id_for(plan_id: str) -> str:
    """The Stripe price sold for a plan ("" for a plan that is not sold, or when its setting is unset)."""
    plan = PLANS.find(plan_id)
    if plan is None or plan.price_setting is None:
        return ""
    return str(getattr(get_settings(), plan.price_setting, "") or "")


def plan_for_price(price_id: str) -> str:
    """The plan a Stripe price belongs to (Free when unknown)."""
    for plan in sold_plans():
        if price_id and price_id == price_id_for(plan.id):
            return plan.id
    return FREE.id


def billing_configured() -> bool:
    """True when Stripe's key and the price of every sold plan are set."""
    return bool(get_settings().STRIPE_API_KEY) and all(price_id_for(p.id) for p in sold_plans())


def check_plan_id(plan_id: str) -> None:
    """Refuse a setting that names a plan the catalogue does not have.

    Raises:
        ValueError: With the plans to choose from.
    """
    if plan_id not in PLANS:
        raise ValueError(f"{plan_id!r} is not a plan; choose one of: {', '.join(PLANS.names())}")


def check_price_settings(settings_type: type[Settings]) -> None:
    """Refuse settings in which a sold plan's price setting does not exist (checked at start-up).

    Raises:
        ValueError: Naming the plan and the missing setting.
    """
    for plan in sold_plans():
        if plan.price_setting not in settings_type.model_fields:
            raise ValueError(f"plan {plan.id!r} reads its Stripe price from {plan.price_setting}, "
                             "which is not a setting")


def effective_plan_id(plan_id: str, grace_until: datetime | None, now: datetime) -> str:
    """The plan in force: a past-due plan holds until its grace period ends, then Free."""
    if grace_until is not None and now >= grace_until:
        return FREE.id
    return get_plan(plan_id).id
