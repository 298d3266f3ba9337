"""Stripe webhooks: verified, applied once, and never rolled back by an older event.

The event id is inserted first (unique key) in the same transaction as its effects, so
duplicates delivered in parallel wait and are then acknowledged and ignored. The plan is
derived from the subscription's own status, and events are ordered per subscription and per
invoice (`ordering`). Every field is read through a validating model (`events`): a signed
payload that is not an event answers 400, an event whose object has an odd field is logged
and acknowledged as `ignored`; neither changes anything.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Literal

import stripe
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from saas_app.models import StripeEvent, Subscription, Tenant, utcnow
from saas_app.services.account.audit import RequestContext, record_event
from saas_app.services.billing import ordering
from saas_app.services.billing.checkout import call_stripe, stripe_client
from saas_app.services.billing.events import (
    OBJECT_MODELS,
    CheckoutSession,
    StripeEventEnvelope,
    StripeInvoice,
    StripeObjectModel,
    StripeSubscription,
    tenant_hint,
)
from saas_app.services.billing.status import SubscriptionStatus
from saas_app.services.core.errors import BillingError, BillingNotConfigured, InvalidPayload, InvalidSignature
from saas_app.services.usage.plans import FREE, plan_for_price
from saas_app.settings import get_settings

log = logging.getLogger(__name__)
WebhookResult = Literal["applied", "duplicate", "stale", "ignored"]


def _verify(payload: bytes, signature: str) -> StripeEventEnvelope:
    """The signed event, read through its validating model.

    Raises:
        InvalidSignature: The signature is missing, wrong or older than 300 s.
        InvalidPayload: Signed, but not a Stripe event (no id, type, time or object).
    """
    secret = get_settings().STRIPE_WEBHOOK_SECRET
    if not secret:
        raise BillingNotConfigured("Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET).")
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature, secret, tolerance=300)
    except (ValueError, stripe.SignatureVerificationError) as exc:  # ValueError: the body is not UTF-8
        raise InvalidSignature("The Stripe signature is missing, wrong or too old.") from exc
    try:
        return StripeEventEnvelope.model_validate_json(payload)
    except ValidationError as exc:
        log.warning("signed stripe payload is not an event: %s", _problems(exc))
        raise InvalidPayload("The body is not a Stripe event (id, type, created and data.object).") from exc


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])


def _find_tenant(session: Session, obj: StripeObjectModel) -> Tenant | None:
    tenant_id = tenant_hint(obj)
    query = select(Tenant).with_for_update()
    if tenant_id:
        return session.exec(query.where(Tenant.id == tenant_id)).first()
    return session.exec(query.where(Tenant.stripe_customer_id == obj.customer)).first() if obj.customer else None


def _ts(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


def _apply_subscription(session: Session, tenant: Tenant, sub: StripeSubscription, at: int, deleted: bool) -> bool:
    """Apply a subscription's state as of event time `at`; False when it is stale (see `ordering`)."""
    status = SubscriptionStatus.CANCELED if deleted else sub.status
    if not ordering.record_subscription_state(session=session, tenant_id=tenant.id, subscription_id=sub.id,
                                              status=status, created=sub.created, at=at):
        return False  # a canceled subscription stays canceled; an older state never rolls a newer one back
    row = session.get(Subscription, tenant.id)
    if row is not None and row.stripe_subscription_id == sub.id and not ordering.is_newer_subscription_state(
            status=status, at=at, held_status=row.status, held_at=row.state_at):
        return False
    if row is not None and row.stripe_subscription_id != sub.id and (
            at < row.state_at or (row.status in SubscriptionStatus.LIVE and status not in SubscriptionStatus.LIVE)):
        return False  # an old, replaced subscription ending (or reporting late) does not change the live one
    plan_id = plan_for_price(sub.price_id)
    row = row or Subscription(tenant_id=tenant.id, stripe_subscription_id=sub.id, plan=plan_id)
    row.stripe_subscription_id, row.price_id, row.status, row.plan = sub.id, sub.price_id, status, plan_id
    row.current_period_end = _ts(sub.period_end)
    row.cancel_at_period_end = sub.cancel_at_period_end
    row.state_at, row.updated_at = at, utcnow()
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


def _apply_checkout(session: Session, tenant: Tenant, checkout: CheckoutSession, at: int) -> bool:
    if checkout.customer:
        tenant.stripe_customer_id = tenant.stripe_customer_id or checkout.customer
    if not checkout.subscription:
        return False
    client = stripe_client()
    sub_id = checkout.subscription
    retrieved = call_stripe(lambda: client.v1.subscriptions.retrieve(sub_id))
    try:
        sub = StripeSubscription.model_validate(retrieved.to_dict())
    except ValidationError as exc:
        raise BillingError("Stripe answered with a subscription this app cannot read.") from exc
    return _apply_subscription(session, tenant, sub, at, deleted=False)


def _apply_invoice(session: Session, tenant: Tenant, invoice: StripeInvoice, at: int, failed: bool) -> bool:
    row = session.get(Subscription, tenant.id)
    if row is not None and at < row.state_at:
        return False  # older than the subscription state we hold
    if failed:
        if not ordering.record_invoice_failure(session=session, tenant_id=tenant.id, invoice=invoice, at=at):
            return False  # the invoice, or a newer one, is paid: this failure is stale
        _start_grace(tenant, row)
    elif ordering.record_invoice_paid(session=session, tenant_id=tenant.id, invoice=invoice, at=at) \
            and tenant.plan_grace_until is not None:
        tenant.plan_grace_until = None
        if row is not None:
            row.past_due_since = None
            session.add(row)
    session.add(tenant)
    return True


def _apply(session: Session, kind: str, obj: StripeObjectModel, tenant: Tenant, at: int) -> bool:
    if isinstance(obj, CheckoutSession):
        return _apply_checkout(session, tenant, obj, at)
    if isinstance(obj, StripeSubscription):
        return _apply_subscription(session, tenant, obj, at, deleted=kind.endswith(".deleted"))
    return _apply_invoice(session, tenant, obj, at, failed=kind == "invoice.payment_failed")


def _record_event_id(session: Session, event: StripeEventEnvelope) -> bool:
    """Insert the event id first, in the caller's transaction; False when it was already there.

    Parallel duplicates wait on the insert and then find the id taken; if applying the event
    fails later, the whole transaction (id included) rolls back so Stripe's retry applies it.
    """
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(StripeEvent).values(
        id=event.id, type=event.type, created=event.created, received_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["id"])
    inserted: int = session.exec(stmt).rowcount
    return inserted == 1


def _read_object(event: StripeEventEnvelope) -> StripeObjectModel | None:
    """The event's object through the model for its type; None (logged) when a field is not as Stripe sends it."""
    try:
        return OBJECT_MODELS[event.type].model_validate(event.data.object)
    except ValidationError as exc:
        log.warning("stripe event %s (%s) ignored: its object is not valid: %s", event.id, event.type,
                    _problems(exc))
        return None


def handle_webhook(*, session: Session, payload: bytes, signature: str, ctx: RequestContext) -> WebhookResult:
    """Verify and apply one webhook delivery.

    Returns:
        `applied`, `duplicate`, `stale` (older than the state applied, see `ordering`) or `ignored`
        (a type the app does not handle, no known tenant, or an object with an invalid field; logged).

    Raises:
        InvalidSignature: Bad or stale signature (400, nothing changed).
        InvalidPayload: Signed but not a Stripe event (400, nothing changed).
        BillingError: Stripe unreachable while applying (502; Stripe retries the delivery).
    """
    event = _verify(payload, signature)
    if not _record_event_id(session, event):
        return "duplicate"
    obj = _read_object(event) if event.type in OBJECT_MODELS else None
    if obj is None:
        return "ignored"
    tenant = _find_tenant(session, obj)
    if tenant is None:
        log.warning("stripe event %s (%s) names no known tenant", event.id, event.type)
        return "ignored"
    stored = session.get(StripeEvent, event.id)
    assert stored is not None
    stored.tenant_id = tenant.id
    changed = _apply(session, event.type, obj, tenant, event.created)
    record_event(session=session, action=f"billing.{event.type}", ctx=ctx, tenant_id=tenant.id, actor="stripe",
                 target=event.id, details={"plan": tenant.plan, "applied": changed})
    return "applied" if changed else "stale"
