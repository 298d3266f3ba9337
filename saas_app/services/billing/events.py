"""What the webhook reads from a Stripe event, as validating models (Stripe's field names).

Every field the webhook uses is read through these models, never from the raw payload: a
field of the wrong type or out of range (`metadata.tenant_id` as a list, a non-numeric
`current_period_end`) makes the event invalid, which the webhook answers without a 500.
Fields the app does not use are ignored.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from saas_app.services.billing.status import InvoiceStatus, SubscriptionStatus

# Unix seconds as the database stores them (a 32-bit integer column: until 2038).
UnixTime = Annotated[int, Field(ge=0, le=2**31 - 1)]
StripeId = Annotated[str, Field(min_length=1, max_length=100)]


def _expandable_id(value: Any) -> Any:
    """Stripe sends a related object as its id, or expanded as an object with an `id`."""
    return value.get("id") if isinstance(value, dict) else value


ExpandableId = Annotated[StripeId, BeforeValidator(_expandable_id)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Metadata(_Model):
    """The metadata the app sets on Stripe objects."""

    tenant_id: str | None = Field(default=None, min_length=1, max_length=32)


class PriceRef(_Model):
    """A price (or a legacy plan) by its id."""

    id: StripeId


class SubscriptionItem(_Model):
    """One line of a subscription: its price and (API 2025+) its billing period."""

    price: PriceRef | None = None
    plan: PriceRef | None = None
    current_period_end: UnixTime | None = None


class SubscriptionItems(_Model):
    """The subscription's `items` list."""

    data: list[SubscriptionItem] = Field(default_factory=list, max_length=20)


class StripeSubscription(_Model):
    """A subscription object (`customer.subscription.*`, or retrieved after Checkout)."""

    id: StripeId
    status: SubscriptionStatus
    customer: ExpandableId | None = None
    metadata: Metadata = Metadata()
    items: SubscriptionItems = SubscriptionItems()
    current_period_end: UnixTime | None = None
    cancel_at_period_end: bool = False
    created: UnixTime = 0

    @property
    def price_id(self) -> str:
        """The first item's price id ("" when there is none)."""
        item = self.items.data[0] if self.items.data else None
        ref = item and (item.price or item.plan)
        return ref.id if ref else ""

    @property
    def period_end(self) -> int | None:
        """When the current period ends (the subscription's own field, or its first item's)."""
        item = self.items.data[0] if self.items.data else None
        return self.current_period_end or (item.current_period_end if item else None)


class SubscriptionDetails(_Model):
    """`invoice.parent.subscription_details` (API 2025+)."""

    subscription: ExpandableId | None = None
    metadata: Metadata = Metadata()


class InvoiceParent(_Model):
    """`invoice.parent` (API 2025+)."""

    subscription_details: SubscriptionDetails | None = None


class StripeInvoice(_Model):
    """An invoice object (`invoice.paid`, `invoice.payment_failed`)."""

    id: StripeId
    status: InvoiceStatus | None = None
    customer: ExpandableId | None = None
    subscription: ExpandableId | None = None
    parent: InvoiceParent | None = None
    metadata: Metadata = Metadata()
    created: UnixTime = 0

    @property
    def subscription_id(self) -> str | None:
        """The subscription the invoice bills (older APIs: `subscription`; newer: `parent`)."""
        details = self.parent.subscription_details if self.parent else None
        return self.subscription or (details.subscription if details else None)


class CheckoutSession(_Model):
    """A Checkout Session (`checkout.session.completed`)."""

    id: StripeId
    customer: ExpandableId | None = None
    subscription: ExpandableId | None = None
    client_reference_id: str | None = Field(default=None, min_length=1, max_length=32)
    metadata: Metadata = Metadata()


class EventData(_Model):
    """`data`: the object is validated by the event's type (see `OBJECT_MODELS`)."""

    object: dict[str, Any]


class StripeEventEnvelope(_Model):
    """The event around the object: its id (the idempotency key), type and time."""

    id: StripeId
    type: str = Field(min_length=1, max_length=80)
    created: UnixTime
    data: EventData


StripeObjectModel = StripeSubscription | StripeInvoice | CheckoutSession
OBJECT_MODELS: dict[str, type[StripeObjectModel]] = {
    "checkout.session.completed": CheckoutSession,
    "customer.subscription.created": StripeSubscription,
    "customer.subscription.updated": StripeSubscription,
    "customer.subscription.deleted": StripeSubscription,
    "invoice.paid": StripeInvoice,
    "invoice.payment_failed": StripeInvoice,
}


def tenant_hint(obj: StripeObjectModel) -> str | None:
    """The tenant id the app put on the object (metadata, or Checkout's client reference), if any."""
    if isinstance(obj, CheckoutSession):
        return obj.metadata.tenant_id or obj.client_reference_id
    if isinstance(obj, StripeInvoice) and obj.parent and obj.parent.subscription_details:
        return obj.metadata.tenant_id or obj.parent.subscription_details.metadata.tenant_id
    return obj.metadata.tenant_id
