"""Billing routes: plans, Checkout, portal, subscription, and the Stripe webhook."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from saas_app.api.deps import Context, DbSession, UserPrincipal
from saas_app.services.billing import checkout as billing
from saas_app.services.billing import webhooks as stripe_webhooks
from saas_app.services.usage.plans import PLANS, get_limits

router = APIRouter(prefix="/api/billing", tags=["billing"])


class CheckoutRequest(BaseModel):
    plan: str = Field(max_length=32, description="A plan sold through Stripe (see GET /api/billing/plans).")


@router.get("/plans")
def plans() -> dict:
    """The plan catalogue with prices, limits and features."""
    return {"plans": [
        {"id": p.id, "name": p.name, "price_monthly": p.price_monthly, "concurrency": p.concurrency,
         "features": list(p.features), "limits": get_limits(p.id)}
        for p in PLANS
    ]}


@router.post("/checkout")
def checkout(body: CheckoutRequest, principal: UserPrincipal, session: DbSession, ctx: Context) -> dict:
    """A Stripe Checkout URL for upgrading to a paid plan."""
    return {"url": billing.create_checkout(session=session, principal=principal, plan_id=body.plan, ctx=ctx)}


@router.post("/portal")
def portal(principal: UserPrincipal, session: DbSession, ctx: Context) -> dict:
    """A Stripe billing-portal URL for managing the subscription."""
    return {"url": billing.create_portal(session=session, principal=principal, ctx=ctx)}


@router.get("/subscription")
def subscription(principal: UserPrincipal, session: DbSession) -> dict:
    """The plan in force, Stripe's status, renewal date and cancellation flag."""
    return billing.get_subscription_summary(session=session, principal=principal)


@router.post("/webhook")
async def webhook(request: Request, session: DbSession, ctx: Context) -> dict:
    """Stripe events, verified over the raw body with STRIPE_WEBHOOK_SECRET."""
    payload = await request.body()
    signature = request.headers.get("stripe-signature", "")
    result = await run_in_threadpool(stripe_webhooks.handle_webhook, session=session, payload=payload,
                                     signature=signature, ctx=ctx)
    return {"received": True, "result": result}
