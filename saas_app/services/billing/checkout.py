"""Selling plans through Stripe: customers, Checkout, the billing portal, subscription state.

Only the official `stripe` library talks to Stripe (or, with `STRIPE_API_BASE`, to a
Stripe-compatible server). Without keys the product runs on Free and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import stripe
from sqlmodel import Session

from saas_app import routes
from saas_app.models import Subscription, Tenant
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.auth.sessions import Principal
from saas_app.services.billing.status import SubscriptionStatus
from saas_app.services.billing.views import SubscriptionSummary
from saas_app.services.core.errors import BillingError, BillingNotConfigured, Conflict, InvalidInput
from saas_app.services.teams.permissions import Action, require
from saas_app.services.usage import plans
from saas_app.settings import get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")
NOT_CONFIGURED = "Paid plans aren't available yet: online payment isn't set up, so every workspace is on the Free plan."
UNREACHABLE = "We couldn't reach our payment provider. Nothing was changed; please try again in a minute."


def stripe_client() -> stripe.StripeClient:
    """A client for the configured Stripe account (or local Stripe-compatible server).

    Raises:
        BillingNotConfigured: No STRIPE_API_KEY / prices.
    """
    settings = get_settings()
    if not plans.billing_configured():
        raise BillingNotConfigured(NOT_CONFIGURED)
    return stripe.StripeClient(settings.STRIPE_API_KEY, max_network_retries=1,
                               base_addresses={"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None)


def call_stripe(action: Callable[[], T]) -> T:
    """Run one Stripe call, turning its failures into a plain `BillingError` (502)."""
    try:
        return action()
    except stripe.StripeError as exc:
        log.error("stripe call failed: %s", exc)
        raise BillingError(UNREACHABLE) from exc


def _ensure_customer(session: Session, tenant: Tenant, email: str) -> str:
    if tenant.stripe_customer_id:
        return tenant.stripe_customer_id
    client = stripe_client()
    # The key makes a retried or concurrent first checkout reuse one customer (same parameters).
    customer = call_stripe(lambda: client.v1.customers.create(params={
        "email": email, "name": tenant.name, "metadata": {"tenant_id": tenant.id},
    }, options={"idempotency_key": f"customer-{tenant.id}"}))
    tenant.stripe_customer_id = customer.id
    session.add(tenant)
    session.commit()  # one customer per tenant, kept even if checkout creation fails next
    return customer.id


def create_checkout(*, session: Session, principal: Principal, plan_id: str, ctx: RequestContext) -> str:
    """A Checkout Session (subscription mode) for a paid plan; returns its URL.

    Raises:
        Forbidden: Not an owner. InvalidInput: Not a paid plan. Conflict: already on it.
        BillingNotConfigured, BillingError.
    """
    require(principal, Action.BILLING_MANAGE)
    sold = plans.sold_plans()
    if plan_id not in [p.id for p in sold]:
        names = [p.name for p in sold]
        raise InvalidInput(f"Choose the {', '.join(names[:-1])} or {names[-1]} plan." if len(names) > 1
                           else f"Choose the {''.join(names)} plan.", field="plan")
    if not plans.price_id_for(plan_id):
        raise BillingNotConfigured(NOT_CONFIGURED)
    if principal.plan == plan_id:
        raise Conflict(f"You are already on the {plans.get_plan(plan_id).name} plan.")
    live = session.get(Subscription, principal.tenant_id)
    if live is not None and live.status in SubscriptionStatus.LIVE:
        raise Conflict("You already have a subscription: use “Manage billing” to change your plan.")
    client = stripe_client()
    tenant = session.get(Tenant, principal.tenant_id)
    assert tenant is not None
    customer_id = _ensure_customer(session, tenant, principal.email)
    checkout = call_stripe(lambda: client.v1.checkout.sessions.create(params={
        "mode": "subscription", "customer": customer_id, "client_reference_id": tenant.id,
        "line_items": [{"price": plans.price_id_for(plan_id), "quantity": 1}],
        "success_url": routes.absolute(routes.billing_return(routes.CHECKOUT_SUCCESS, plan_id)),
        "cancel_url": routes.absolute(routes.billing_return(routes.CHECKOUT_CANCELED)),
        "metadata": {"tenant_id": tenant.id, "plan": plan_id},
        "subscription_data": {"metadata": {"tenant_id": tenant.id}},
    }))
    record_event(session=session, action="billing.checkout_started", ctx=ctx, tenant_id=tenant.id,
                 user_id=principal.user_id, actor=principal.actor_name, target=checkout.id, details={"plan": plan_id})
    return str(checkout.url)


def create_portal(*, session: Session, principal: Principal, ctx: RequestContext) -> str:
    """A billing-portal session URL for managing the subscription.

    Raises:
        Forbidden: Not an owner. Conflict: The tenant never subscribed. BillingNotConfigured, BillingError.
    """
    require(principal, Action.BILLING_MANAGE)
    client = stripe_client()
    tenant = session.get(Tenant, principal.tenant_id)
    assert tenant is not None
    if not tenant.stripe_customer_id:
        raise Conflict("There is no billing account yet: choose a paid plan first.")
    customer_id = tenant.stripe_customer_id
    portal = call_stripe(lambda: client.v1.billing_portal.sessions.create(params={
        "customer": customer_id, "return_url": routes.absolute(routes.BILLING),
    }))
    record_event(session=session, action="billing.portal_opened", ctx=ctx, tenant_id=tenant.id,
                 user_id=principal.user_id, actor=principal.actor_name)
    return str(portal.url)


def get_subscription_summary(*, session: Session, principal: Principal) -> SubscriptionSummary:
    """The plan in force, Stripe's status and renewal."""
    sub = session.get(Subscription, principal.tenant_id)
    tenant = session.get(Tenant, principal.tenant_id)
    assert tenant is not None
    grace = tenant.plan_grace_until
    return SubscriptionSummary(
        plan=principal.plan,
        status=sub.status if sub else (SubscriptionStatus.ACTIVE if not plans.is_paid(principal.plan) else ""),
        current_period_end=sub.current_period_end if sub else None,
        cancel_at_period_end=bool(sub and sub.cancel_at_period_end),
        grace_until=grace if plans.is_paid(principal.plan) else None,
        billing_configured=plans.billing_configured(),
    )


def get_payment_warning(*, session: Session, tenant_id: str) -> str:
    """A warning for the banner while a failed payment's grace period runs ("" otherwise)."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or tenant.plan_grace_until is None or not plans.is_paid(tenant.plan):
        return ""
    when = tenant.plan_grace_until.strftime("%d %b %Y")
    return f"Your last payment failed. Update your card by {when} to keep the {plans.get_plan(tenant.plan).name} plan."
