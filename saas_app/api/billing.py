"""Billing routes: plans, Checkout, portal, subscription, and the Stripe webhook."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from saas_app.api.capacity import ApiRoute
from saas_app.api.deps import Context, DbSession, RawBody, UserPrincipal
from saas_app.api.errors import AUTH, BODY, errors
from saas_app.api.schemas import PlanList, RedirectUrl, WebhookReceipt
from saas_app.services.billing import checkout as billing
from saas_app.services.billing import webhooks as stripe_webhooks
from saas_app.services.billing.views import SubscriptionSummary, list_plans

router = APIRouter(route_class=ApiRoute, prefix="/api/billing", tags=["billing"])


class CheckoutRequest(BaseModel):
    plan: str = Field(max_length=32, description="A plan sold through Stripe (see GET /api/billing/plans).")


@router.get("/plans", response_model=PlanList)
def plans() -> PlanList:
    """The plan catalogue with prices, limits and features."""
    return PlanList(plans=list_plans())


@router.post("/checkout", response_model=RedirectUrl, responses=errors(*AUTH, *BODY, 409, 502, 503))
def checkout(body: CheckoutRequest, principal: UserPrincipal, session: DbSession, ctx: Context) -> RedirectUrl:
    """A Stripe Checkout URL for upgrading to a paid plan."""
    return RedirectUrl(url=billing.create_checkout(session=session, principal=principal, plan_id=body.plan, ctx=ctx))


@router.post("/portal", response_model=RedirectUrl, responses=errors(*AUTH, 409, 502, 503))
def portal(principal: UserPrincipal, session: DbSession, ctx: Context) -> RedirectUrl:
    """A Stripe billing-portal URL for managing the subscription."""
    return RedirectUrl(url=billing.create_portal(session=session, principal=principal, ctx=ctx))


@router.get("/subscription", response_model=SubscriptionSummary, responses=errors(*AUTH))
def subscription(principal: UserPrincipal, session: DbSession) -> SubscriptionSummary:
    """The plan in force, Stripe's status, renewal date and cancellation flag."""
    return billing.get_subscription_summary(session=session, principal=principal)


@router.post("/webhook", response_model=WebhookReceipt, responses=errors(400, 502, 503))
def webhook(request: Request, payload: RawBody, session: DbSession, ctx: Context) -> WebhookReceipt:
    """Stripe events, verified over the raw body with STRIPE_WEBHOOK_SECRET."""
    signature = request.headers.get("stripe-signature", "")
    result = stripe_webhooks.handle_webhook(session=session, payload=payload, signature=signature, ctx=ctx)
    return WebhookReceipt(result=result)
