"""The order of Stripe's webhook events: Stripe delivers them late, twice and out of order.

The rules (README "Billing"), each decided from the objects' own state, not only event time:

- Subscriptions, per subscription id: a canceled subscription is final (Stripe never
  reactivates one); an event older than the newest applied changes nothing, and one of the
  same second never moves the status back (`SUBSCRIPTION_PROGRESS`).
- Invoices, per invoice and per subscription: a paid invoice stays paid; a payment failure
  for a paid invoice, or for an invoice no newer than a paid one of the same subscription,
  is stale; a payment clears the grace period only when no newer invoice has failed since.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from saas_app.models import StripeObjectState
from saas_app.services.billing.events import StripeInvoice
from saas_app.services.billing.status import SUBSCRIPTION_PROGRESS, InvoiceStatus, SubscriptionStatus

ObjectKind = Literal["subscription", "invoice"]


def is_newer_subscription_state(*, status: SubscriptionStatus, at: int, held_status: str, held_at: int) -> bool:
    """Whether a subscription state (`status` as of event time `at`) may replace the one held.

    A canceled subscription is final; an older state never replaces a newer one; at the same
    second the status only moves forward.
    """
    if held_status == SubscriptionStatus.CANCELED:
        return False
    if at != held_at:
        return at > held_at
    held = next((rank for known, rank in SUBSCRIPTION_PROGRESS.items() if known == held_status), 0)
    return SUBSCRIPTION_PROGRESS[status] >= held


def record_subscription_state(*, session: Session, tenant_id: str, subscription_id: str,
                              status: SubscriptionStatus, created: int, at: int) -> bool:
    """Remember a subscription's state as of event time `at`.

    Returns:
        False (and nothing changes) when the state held for that subscription is canceled or newer.
    """
    held = session.get(StripeObjectState, subscription_id)
    if held is not None and not is_newer_subscription_state(status=status, at=at, held_status=held.status,
                                                            held_at=held.state_at):
        return False
    _save(session, held, subscription_id, "subscription", tenant_id, None, status, created, at)
    return True


def record_invoice_failure(*, session: Session, tenant_id: str, invoice: StripeInvoice, at: int) -> bool:
    """Remember that paying `invoice` failed.

    Returns:
        False (stale: nothing changes) when the invoice is paid, or a paid invoice of the same
        subscription is as new or newer.
    """
    held = session.get(StripeObjectState, invoice.id)
    if invoice.status == InvoiceStatus.PAID or (held is not None and held.status == InvoiceStatus.PAID):
        return False
    paid_since = _invoices(session, tenant_id, invoice, InvoiceStatus.PAID,
                           col(StripeObjectState.created) >= invoice.created)
    if paid_since:
        return False
    _save(session, held, invoice.id, "invoice", tenant_id, invoice.subscription_id, InvoiceStatus.OPEN,
          invoice.created, at)
    return True


def record_invoice_paid(*, session: Session, tenant_id: str, invoice: StripeInvoice, at: int) -> bool:
    """Remember that `invoice` is paid (final for that invoice).

    Returns:
        Whether the payment settles the account: no newer invoice of the same subscription has
        failed and is still unpaid.
    """
    held = session.get(StripeObjectState, invoice.id)
    _save(session, held, invoice.id, "invoice", tenant_id, invoice.subscription_id, InvoiceStatus.PAID,
          invoice.created, at)
    newer_failures = _invoices(session, tenant_id, invoice, InvoiceStatus.OPEN,
                               col(StripeObjectState.created) > invoice.created)
    return not newer_failures


def _invoices(session: Session, tenant_id: str, invoice: StripeInvoice, status: InvoiceStatus,
              when: ColumnElement[bool]) -> list[str]:
    """Ids of the other invoices of the same subscription (else of the tenant) in `status` matching `when`."""
    query = select(StripeObjectState.id).where(
        StripeObjectState.tenant_id == tenant_id, StripeObjectState.object == "invoice",
        StripeObjectState.status == status, StripeObjectState.id != invoice.id, when)
    if invoice.subscription_id:
        query = query.where(StripeObjectState.subscription_id == invoice.subscription_id)
    return list(session.exec(query).all())


def _save(session: Session, held: StripeObjectState | None, object_id: str, kind: ObjectKind, tenant_id: str,
          subscription_id: str | None, status: str, created: int, at: int) -> None:
    row = held or StripeObjectState(id=object_id, object=kind, tenant_id=tenant_id, status=status)
    row.subscription_id = subscription_id or row.subscription_id
    row.status, row.created, row.state_at = status, created or row.created, max(at, row.state_at)
    session.add(row)
    session.flush()
