"""Stripe's subscription statuses (Stripe's own names): the only place they are spelled."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class SubscriptionStatus(StrEnum):
    """A Stripe subscription's `status`."""

    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    PAUSED = "paused"

    PAID_UP: ClassVar[frozenset[SubscriptionStatus]]  # the plan applies, no grace period
    LIVE: ClassVar[frozenset[SubscriptionStatus]]  # a subscription exists: change it in the portal
    ENDED: ClassVar[frozenset[SubscriptionStatus]]  # nothing renews


SubscriptionStatus.PAID_UP = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING})
SubscriptionStatus.LIVE = SubscriptionStatus.PAID_UP | {SubscriptionStatus.PAST_DUE}
SubscriptionStatus.ENDED = frozenset({SubscriptionStatus.CANCELED, SubscriptionStatus.UNPAID,
                                      SubscriptionStatus.INCOMPLETE_EXPIRED})

# How far along its life a subscription is: at an equal event time, a state never moves back.
SUBSCRIPTION_PROGRESS: dict[SubscriptionStatus, int] = {
    SubscriptionStatus.INCOMPLETE: 0, SubscriptionStatus.TRIALING: 1, SubscriptionStatus.ACTIVE: 2,
    SubscriptionStatus.PAUSED: 3, SubscriptionStatus.PAST_DUE: 3, SubscriptionStatus.UNPAID: 4,
    SubscriptionStatus.INCOMPLETE_EXPIRED: 5, SubscriptionStatus.CANCELED: 5,
}


class InvoiceStatus(StrEnum):
    """A Stripe invoice's `status`."""

    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    UNCOLLECTIBLE = "uncollectible"
    VOID = "void"
