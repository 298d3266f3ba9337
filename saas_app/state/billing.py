"""The billing page: plan in force, plan cards, Checkout and portal, return messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import reflex as rx

from saas_app import routes
from saas_app.services.auth.sessions import Principal
from saas_app.services.billing import checkout as billing
from saas_app.services.billing.status import SubscriptionStatus
from saas_app.services.billing.views import SubscriptionSummary
from saas_app.services.core.errors import AppError
from saas_app.services.renders.charging import CHARGE_RULE
from saas_app.services.usage.plans import PLANS, get_limits, get_plan, is_paid
from saas_app.state.formatting import format_date, plan_quota_text
from saas_app.state.usage import UsageState

RETURN_POLL_SECONDS = 1.0
RETURN_POLL_TRIES = 30
_STATUS_LABELS = {SubscriptionStatus.PAST_DUE: "Past due"}  # the others read as their name in title case


def plan_cards(current: str) -> list[dict[str, str]]:
    """Display rows for the plan cards, one per plan in the catalogue."""
    return [{"id": plan.id, "name": plan.name,
             "price": f"${plan.price_monthly}/month" if plan.price_monthly else "Free",
             "quota": plan_quota_text(get_limits(plan.id)), "features": " · ".join(plan.features),
             "current": "yes" if plan.id == current else "", "sold": "yes" if is_paid(plan.id) else ""}
            for plan in PLANS]


# The charge rule for videos that do not succeed, as the billing page states it (one text: charging.py).
CANCELED_VIDEO_FAQ = ("Is a canceled or failed video charged?", CHARGE_RULE)


class BillingState(UsageState):
    """What the billing page shows; Stripe URLs are fetched per click."""

    plan_name: str = ""
    status: str = ""
    status_label: str = ""
    renewal: str = ""
    paid: bool = False
    cancel_at_period_end: bool = False
    grace_until: str = ""
    configured: bool = True
    cards: list[dict[str, str]] = []
    message: str = ""
    message_kind: str = "info"
    busy: str = ""

    def _show(self, summary: SubscriptionSummary) -> None:
        self.plan = summary.plan
        self.plan_name = get_plan(summary.plan).name
        self.paid = is_paid(summary.plan)
        self.status = (summary.status or SubscriptionStatus.ACTIVE) if self.paid else SubscriptionStatus.ACTIVE
        self.status_label = _STATUS_LABELS.get(self.status, self.status.replace("_", " ").title())
        if summary.cancel_at_period_end:
            self.status_label = "Canceled at period end"
        ended = self.status in SubscriptionStatus.ENDED
        self.renewal = "" if ended or not self.paid else format_date(summary.current_period_end)
        self.cancel_at_period_end = summary.cancel_at_period_end
        self.grace_until = format_date(summary.grace_until)
        self.configured = summary.billing_configured
        self.cards = plan_cards(summary.plan)

    async def _reload(self, principal: Principal) -> None:
        self._show(await self._call(billing.get_subscription_summary, principal=principal))
        await self._refresh(principal)  # the banner and the page show the same plan

    @rx.event
    async def load(self):
        """on_load: current plan, and what happened when coming back from Checkout."""
        principal = await self._resolve_principal()
        if principal is None or not self.can_manage_billing:  # the page tells the others whom to ask
            return
        await self._reload(principal)
        params = self.router.url.query_parameters
        self.message, self.message_kind = "", "info"
        if params.get("checkout") == routes.CHECKOUT_CANCELED:
            self.message = "Checkout canceled. You have not been charged and your plan is unchanged."
        elif params.get("checkout") == routes.CHECKOUT_SUCCESS:
            wanted = params.get("plan", "")
            if wanted and wanted != self.plan:
                self.message = "Payment received. Finishing your upgrade…"
                return BillingState.wait_for_plan(wanted)
            self.message, self.message_kind = f"You're on {self.plan_name} now.", "success"

    @rx.event(background=True)
    async def wait_for_plan(self, wanted: str):
        """After Checkout, wait for Stripe's webhook to switch the plan (unlocked while it reads)."""
        for _ in range(RETURN_POLL_TRIES):
            await asyncio.sleep(RETURN_POLL_SECONDS)
            principal = await self._background_principal()
            if principal is None:
                return
            summary = await self._call(billing.get_subscription_summary, principal=principal)
            banner = await self._fetch_banner(principal) if summary.plan == wanted else None
            async with self:
                self._show(summary)
                if self.plan == wanted:
                    self.message, self.message_kind = f"You're on {self.plan_name} now.", "success"
                    self._show_banner(banner)
                    return
        async with self:
            self.message = ("Your payment went through, but the upgrade has not arrived yet. "
                            "Refresh this page in a minute.")

    async def _go_to_stripe(self, busy: str, create_url: Callable[..., str], /, **kwargs: Any) -> AsyncIterator[Any]:
        """Show `busy` on the button, ask the service for a Stripe URL, then send the browser there."""
        principal = await self._resolve_principal()
        if principal is None:
            yield self._to_login()
            return
        self.busy, self.message = busy, ""
        yield
        try:
            url = await self._call(create_url, principal=principal, ctx=self._request_context(), **kwargs)
        except AppError as exc:
            self.message, self.message_kind = exc.message, "error"
            return
        finally:
            self.busy = ""
        yield rx.redirect(url)  # same tab (an external URL is left to the browser)

    @rx.event
    async def upgrade(self, plan_id: str):
        """Send the browser to Stripe Checkout for a paid plan."""
        async for update in self._go_to_stripe(plan_id, billing.create_checkout, plan_id=plan_id):
            yield update

    @rx.event
    async def manage(self):
        """Open Stripe's billing portal."""
        async for update in self._go_to_stripe("portal", billing.create_portal):
            yield update
