"""Premium features, guarded in one place (like the product's `require_paid_subscription`)."""

from __future__ import annotations

from saas_app.services.core.errors import PlanRequired
from saas_app.services.renders.media.images import TEMPLATES
from saas_app.services.usage.plans import first_premium_plan, get_plan
from saas_app.services.usage.quotas import upgrade_url

PREMIUM_RESOLUTIONS = ("1080p",)


def require_paid_subscription(*, plan_id: str, feature: str) -> None:
    """Raise `PlanRequired` (402) unless the plan includes premium features.

    Args:
        plan_id: The tenant's plan.
        feature: What was asked for, in words (for the message).
    """
    if not get_plan(plan_id).premium:
        first = first_premium_plan()
        raise PlanRequired(f"{feature} is available on the {first.name} plan and above. Upgrade to use it.",
                           required_plan=first.id, upgrade_url=upgrade_url())


def require_feature(*, plan_id: str, resolution: str, template: str) -> None:
    """Check a render's options against the plan."""
    if resolution in PREMIUM_RESOLUTIONS:
        require_paid_subscription(plan_id=plan_id, feature=f"{resolution} output")
    tpl = TEMPLATES.get(template)
    if tpl is not None and tpl.premium:
        require_paid_subscription(plan_id=plan_id, feature=f"The {tpl.name} template")
