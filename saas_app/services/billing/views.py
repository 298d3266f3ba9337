"""Typed views of billing: the plan catalogue and the subscription in force."""

from __future__ import annotations

from saas_app.services.core.views import IsoDatetime, View
from saas_app.services.usage.plans import PLANS, get_limits


class PlanView(View):
    """A plan as sold: monthly price in US dollars, renders at a time, features, monthly limits (None = unlimited)."""

    id: str
    name: str
    price_monthly: int
    concurrency: int
    features: list[str]
    limits: dict[str, float | None]


class SubscriptionSummary(View):
    """The plan in force, Stripe's subscription status, renewal date and cancellation flag.

    `grace_until` is set while a failed payment's grace period runs; `billing_configured`
    is False when the server has no Stripe keys (everyone is on Free).
    """

    plan: str
    status: str
    current_period_end: IsoDatetime | None
    cancel_at_period_end: bool
    grace_until: IsoDatetime | None
    billing_configured: bool


def list_plans() -> list[PlanView]:
    """The plan catalogue with prices, limits and features."""
    return [PlanView(id=p.id, name=p.name, price_monthly=p.price_monthly, concurrency=p.concurrency,
                     features=list(p.features), limits=get_limits(p.id)) for p in PLANS]
