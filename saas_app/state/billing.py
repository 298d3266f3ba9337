"""The billing page: plan in force, plan cards, Checkout and portal, return messages."""

from __future__ import annotations

import asyncio

import reflex as rx

from saas_app import routes
from saas_app.db import session_scope
from saas_app.services.billing import checkout as billing
from saas_app.services.account.audit import RequestContext
from saas_app.services.auth.sessions import Principal
from saas_app.services.core.errors import AppError
from saas_app.services.billing.status import SubscriptionStatus
from saas_app.services.usage.plans import PLANS, get_limits, get_plan, is_paid
from saas_app.state.formatting import format_date, plan_quota_text
from saas_app.state.usage import UsageState

RETURN_POLL_SECONDS = 1.0
RETURN_POLL_TRIES = 30
_STATUS_LABELS = {SubscriptionStatus.PAST_DUE: "Past due"}  # the others read as their name in title case


def _summary(principal: Principal) -> dict:
    with session_scope() as session:
        return billing.get_subscription_summary(session=session, principal=principal)


def _checkout(principal: Principal, plan_id: str, ctx: RequestContext) -> str:
    with session_scope() as session:
        return billing.create_checkout(session=session, principal=principal, plan_id=plan_id, ctx=ctx)


def _portal(principal: Principal, ctx: RequestContext) -> str:
    with session_scope() as session:
        return billing.create_portal(session=session, principal=principal, ctx=ctx)


def plan_cards(current: str) -> list[dict[str, str]]:
    """Display rows for the plan cards, one per plan in the catalogue."""
    return [{"id": plan.id, "name": plan.name, "price": f"${plan.price_monthly}/month" if plan.price_monthly else "Free",
             "quota": plan_quota_text(get_limits(plan.id)), "features": " · ".join(plan.features),
             "current": "yes" if plan.id == current else "", "sold": "yes" if is_paid(plan.id) else ""}
            for plan in PLANS]


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

    def _show(self, summary: dict) -> None:
        self.plan = summary["plan"]
        self.plan_name = get_plan(summary["plan"]).name
        self.paid = is_paid(summary["plan"])
        self.status = (summary["status"] or SubscriptionStatus.ACTIVE) if self.paid else SubscriptionStatus.ACTIVE
        self.status_label = _STATUS_LABELS.get(self.status, self.status.replace("_", " ").title())
        if summary["cancel_at_period_end"]:
            self.status_label = "Canceled at period end"
        ended = self.status in SubscriptionStatus.ENDED
        self.renewal = "" if ended or not self.paid else format_date(summary["current_period_end"])
        self.cancel_at_period_end = summary["cancel_at_period_end"]
        self.grace_until = format_date(summary["grace_until"])
        self.configured = summary["billing_configured"]
        self.cards = plan_cards(summary["plan"])

    @rx.event
    async def load(self):
        """on_load: current plan, and what happened when coming back from Checkout."""
        principal = await self._resolve_principal()
        if principal is None:
            return
        self._show(await asyncio.to_thread(_summary, principal))
        await self._refresh(principal)  # the banner and the page show the same plan
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
        """After Checkout, wait for Stripe's webhook to switch the plan."""
        for _ in range(RETURN_POLL_TRIES):
            await asyncio.sleep(RETURN_POLL_SECONDS)
            async with self:
                principal = await self._resolve_principal()
                if principal is None:
                    return
                self._show(await asyncio.to_thread(_summary, principal))
                if self.plan == wanted:
                    self.message, self.message_kind = f"You're on {self.plan_name} now.", "success"
                    await self._refresh(principal)
                    return
        async with self:
            self.message = ("Your payment went through, but the upgrade has not arrived yet. "
                            "Refresh this page in a minute.")

    @rx.event
    async def upgrade(self, plan_id: str):
        """Send the browser to Stripe Checkout for a paid plan."""
        principal = await self._resolve_principal()
        if principal is None:
            yield self._to_login()
            return
        self.busy, self.message = plan_id, ""
        yield
        try:
            url = await asyncio.to_thread(_checkout, principal, plan_id, self._request_context())
        except AppError as exc:
            self.message, self.message_kind = exc.message, "error"
            return
        finally:
            self.busy = ""
        yield rx.redirect(url)  # same tab (an external URL is left to the browser)

    @rx.event
    async def manage(self):
        """Open Stripe's billing portal."""
        principal = await self._resolve_principal()
        if principal is None:
            yield self._to_login()
            return
        self.busy, self.message = "portal", ""
        yield
        try:
            url = await asyncio.to_thread(_portal, principal, self._request_context())
        except AppError as exc:
            self.message, self.message_kind = exc.message, "error"
            return
        finally:
            self.busy = ""
        yield rx.redirect(url)  # same tab (an external URL is left to the browser)
