"""Stripe webhooks: verified, applied once, and never rolled back by an older event.

The event id is inserted first (unique key) in the same transaction as its effects, so
duplicates delivered in parallel wait and are then acknowledged and ignored. The plan is
derived from the subscription's own status, and an event older than the newest one
applied to that tenant changes nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import stripe
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from saas_app.models import StripeEvent, Subscription, Tenant, utcnow
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.billing.checkout import call_stripe, stripe_client
from saas_app.services.billing.status import SubscriptionStatus
from saas_app.services.core.errors import BillingNotConfigured, InvalidSignature
from saas_app.services.usage.plans import FREE, plan_for_price
from saas_app.settings import get_settings

log = logging.getLogger(__name__)
HANDLED = {
    "checkout.session.completed", "customer.subscription.created", "customer.subscription.updated",
    "customer.subscription.deleted", "invoice.paid", "invoice.payment_failed",
}
WebhookResult = Literal["applied", "duplicate", "stale", "ignored"]


def _verify(payload: bytes, signature: str) -> stripe.Event:
    secret = get_settings().STRIPE_WEBHOOK_SECRET
    if not secret:
        raise BillingNotConfigured("Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET).")
    try:
        event: stripe.Event = stripe.Webhook.construct_event(payload, signature, secret, tolerance=300)
        return event
    except (ValueError, stripe.SignatureVerificationError) as exc:
        raise InvalidSignature("The Stripe signature is missing, wrong or too old.") from exc


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if obj is None:
            return None
        obj = obj.get(key) if hasattr(obj, "get") else getattr(obj, key, None)
    return obj


def _find_tenant(session: Session, obj: Any) -> Tenant | None:
    tenant_id = _get(obj, "metadata", "tenant_id") or _get(obj, "client_reference_id")
    query = select(Tenant).with_for_update()
    if tenant_id:
        return session.exec(query.where(Tenant.id == tenant_id)).first()
    customer = _get(obj, "customer")
    customer_id = customer if isinstance(customer, str) else _get(customer, "id")
    return session.exec(query.where(Tenant.stripe_customer_id == customer_id)).first() if customer_id else None


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def _apply_subscription(session: Session, tenant: Tenant, sub: Any, created: int, deleted: bool) -> bool:
    row = session.get(Subscription, tenant.id)
    if row is not None and created < row.state_at:
        return False  # an older event arriving late: the newer state stands
    item = (_get(sub, "items", "data") or [None])[0]
    price_id = _get(item, "price", "id") or _get(item, "plan", "id") or ""
    status = SubscriptionStatus.CANCELED if deleted else str(_get(sub, "status") or "")
    replaced = row is not None and row.stripe_subscription_id != str(_get(sub, "id"))
    if replaced and row is not None and row.status in SubscriptionStatus.LIVE and status not in SubscriptionStatus.LIVE:
        return False  # an old, replaced subscription ending does not end the live one
    plan_id = plan_for_price(price_id)
    row = row or Subscription(tenant_id=tenant.id, stripe_subscription_id=str(_get(sub, "id")), plan=plan_id)
    row.stripe_subscription_id, row.price_id, row.status = str(_get(sub, "id")), price_id, status
    row.plan = plan_id
    row.current_period_end = _ts(_get(sub, "current_period_end") or _get(item, "current_period_end"))
    row.cancel_at_period_end = bool(_get(sub, "cancel_at_period_end"))
    row.state_at, row.updated_at = created, utcnow()
    if status in SubscriptionStatus.PAID_UP:
        tenant.plan, tenant.plan_grace_until, row.past_due_since = row.plan, None, None
    elif status == SubscriptionStatus.PAST_DUE:
        _start_grace(tenant, row)
    else:
        tenant.plan, tenant.plan_grace_until = FREE.id, None
    session.add_all([row, tenant])
    return True


def _start_grace(tenant: Tenant, row: Subscription | None) -> None:
    if row is not None and row.plan != FREE.id:
        tenant.plan = row.plan
    if tenant.plan_grace_until is None and tenant.plan != FREE.id:
        tenant.plan_grace_until = utcnow() + timedelta(days=get_settings().BILLING_GRACE_DAYS)
        if row is not None:
            row.past_due_since = row.past_due_since or utcnow()


def _apply(session: Session, event: stripe.Event, tenant: Tenant) -> bool:
    obj, kind = event.data.object, event.type
    if kind == "checkout.session.completed":
        customer = _get(obj, "customer")
        tenant.stripe_customer_id = tenant.stripe_customer_id or (customer if isinstance(customer, str) else None)
        sub_id = _get(obj, "subscription")
        if not sub_id:
            return False
        client = stripe_client()
        sub = call_stripe(lambda: client.v1.subscriptions.retrieve(str(sub_id)))
        return _apply_subscription(session, tenant, sub, event.created, deleted=False)
    if kind.startswith("customer.subscription."):
        return _apply_subscription(session, tenant, obj, event.created, deleted=kind.endswith(".deleted"))
    row = session.get(Subscription, tenant.id)
    if row is not None and event.created < row.state_at:
        return False  # older than the subscription state we hold
    if kind == "invoice.payment_failed":
        _start_grace(tenant, row)
    elif kind == "invoice.paid" and tenant.plan_grace_until is not None:
        tenant.plan_grace_until = None
        if row is not None:
            row.past_due_since = None
            session.add(row)
    session.add(tenant)
    return True


def _record_event_id(session: Session, event: stripe.Event) -> bool:
    """Insert the event id first, in the caller's transaction; False when it was already there.

    Parallel duplicates wait on the insert and then find the id taken; if applying the event
    fails later, the whole transaction (id included) rolls back so Stripe's retry applies it.
    """
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(StripeEvent).values(
        id=event.id, type=event.type, created=int(event.created or 0), received_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["id"])
    inserted: int = session.exec(stmt).rowcount
    return inserted == 1


def handle_webhook(*, session: Session, payload: bytes, signature: str, ctx: RequestContext) -> WebhookResult:
    """Verify and apply one webhook delivery.

    Returns:
        `applied`, `duplicate`, `stale` (older than the state applied) or `ignored`.

    Raises:
        InvalidSignature: Bad or stale signature (400, nothing changed).
        BillingError: Stripe unreachable while applying (502; Stripe retries the delivery).
    """
    event = _verify(payload, signature)
    if not _record_event_id(session, event):
        return "duplicate"
    if event.type not in HANDLED:
        return "ignored"
    tenant = _find_tenant(session, event.data.object)
    if tenant is None:
        log.warning("stripe event %s (%s) names no known tenant", event.id, event.type)
        return "ignored"
    stored = session.get(StripeEvent, event.id)
    assert stored is not None
    stored.tenant_id = tenant.id
    changed = _apply(session, event, tenant)
    record_event(session=session, action=f"billing.{event.type}", ctx=ctx, tenant_id=tenant.id, actor="stripe",
                 target=event.id, details={"plan": tenant.plan, "applied": changed})
    return "applied" if changed else "stale"
