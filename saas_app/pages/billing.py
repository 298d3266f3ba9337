"""`/billing`: current plan and status, plan cards, Checkout and portal, FAQ."""

from __future__ import annotations

import reflex as rx

from saas_app.components.theme import BRAND, MUTED
from saas_app.state.billing import CANCELED_VIDEO_FAQ, BillingState
from saas_app.state.formatting import SUBSCRIPTION_STATUS_COLORS
from saas_app.state.session import SessionState
from saas_app.state.workspaces import WorkspacesState

_FAQ = [
    ("When am I billed?", "Paid plans renew monthly on the date you subscribed. Usage quotas reset on the first "
                          "day of each calendar month (UTC)."),
    ("Can I cancel?", "Yes, any time from “Manage billing”. Your plan stays active until the end of the period "
                      "you paid for, then you are back on Free. Your videos are kept."),
    ("What happens over quota?", "New renders that would go over your monthly quota are refused with a clear "
                                 "message before anything is charged. Upgrade, or wait for the monthly reset."),
    ("What if a payment fails?", "Your plan keeps working for a grace period while you update your card; after "
                                 "it the workspace moves to Free."),
    CANCELED_VIDEO_FAQ,
]
# The answers that hold when online payment is not set up (quotas and their charges apply on every plan).
_ALWAYS = {"What happens over quota?", CANCELED_VIDEO_FAQ[0]}


def _status() -> rx.Component:
    scheme = rx.match(BillingState.status, *SUBSCRIPTION_STATUS_COLORS, "green")
    return rx.card(
        rx.vstack(
            rx.hstack(rx.text("Current plan", color=MUTED, size="2"), width="100%"),
            rx.hstack(rx.heading(BillingState.plan_name, size="6", id="current-plan"),
                      rx.badge(BillingState.status_label, color_scheme=scheme, size="2", id="plan-status"),
                      align="center", spacing="3"),
            rx.cond(BillingState.renewal != "",
                    rx.text(rx.cond(BillingState.cancel_at_period_end, "Ends on ", "Renews on "),
                            BillingState.renewal, size="2", color=MUTED)),
            rx.cond(BillingState.grace_until != "",
                    rx.callout("Your last payment failed. Update your card by " + BillingState.grace_until
                               + " to keep your plan.", icon="triangle-alert", color_scheme="orange",
                               id="grace-warning")),
            rx.cond(BillingState.configured & BillingState.paid,
                    rx.button("Manage billing", on_click=BillingState.manage, loading=BillingState.busy == "portal",
                              variant="soft", color_scheme="violet", id="manage-billing",
                              data_testid="manage-billing")),
            spacing="2", width="100%",
        ),
        width="100%",
    )


def _card(card: rx.Var) -> rx.Component:
    current = card["current"] == "yes"
    return rx.card(
        rx.vstack(
            rx.hstack(rx.heading(card["name"], size="5", as_="h3"),
                      rx.cond(current, rx.badge("Current plan", color_scheme="violet")), align="center"),
            rx.text(card["price"], size="6", weight="bold", color=BRAND, as_="div"),  # not a heading
            rx.text(card["quota"], size="2"),
            rx.text(card["features"], size="2", color=MUTED),
            rx.cond(
                current | (card["sold"] != "yes"),
                rx.fragment(),
                rx.cond(BillingState.configured,
                        rx.button("Upgrade to " + card["name"], on_click=BillingState.upgrade(card["id"]),
                                  loading=BillingState.busy == card["id"], color_scheme="violet", width="100%",
                                  id="upgrade-" + card["id"], data_testid="upgrade-" + card["id"]),
                        rx.text("Not available yet", size="2", color=MUTED)),
            ),
            spacing="3", height="100%",
        ),
        border=rx.cond(current, f"2px solid {BRAND}", "1px solid #e5e7eb"), class_name="plan-card",
        data_plan=card["id"],
    )


def _not_an_owner() -> rx.Component:
    """What a member or admin sees instead of plans and buttons."""
    return rx.callout(rx.text("Only an owner of ", rx.text.strong(WorkspacesState.current_name),
                              " can manage billing. Ask an owner to change the plan."),
                      icon="lock", color_scheme="gray", id="billing-owners-only", data_testid="billing-owners-only")


def billing_page() -> rx.Component:
    """The billing page (for owners; the others are told whom to ask)."""
    return rx.vstack(
        rx.heading("Billing", size="7", as_="h1"),
        rx.cond(SessionState.can_manage_billing, _billing(), _not_an_owner()),
        spacing="4", width="100%",
    )


def _billing() -> rx.Component:
    return rx.fragment(
        rx.cond(BillingState.message != "",
                rx.callout(BillingState.message, icon="info", id="billing-message", role="status",
                           color_scheme=rx.match(BillingState.message_kind, ("success", "green"), ("error", "red"),
                                                 "blue"))),
        rx.cond(~BillingState.configured,
                rx.callout("Paid plans can't be bought here yet: online payment isn't set up. Every workspace is "
                           "on the Free plan, and nothing is charged.",
                           icon="info", color_scheme="gray", id="billing-not-configured",
                           data_testid="billing-not-configured")),
        _status(),
        rx.heading("Plans", size="5", as_="h2"),
        rx.grid(rx.foreach(BillingState.cards, _card), spacing="4", width="100%",  # as many columns as fit
                grid_template_columns="repeat(auto-fit, minmax(220px, 1fr))"),
        rx.heading("Questions", size="5", as_="h2"),
        # Without online payment there is nothing to be billed for, cancel or fail: only the quota answer applies.
        rx.vstack(*[rx.box(rx.text(q, weight="bold"), rx.text(a, color=MUTED, size="2")) if q in _ALWAYS
                    else rx.cond(BillingState.configured,
                                 rx.box(rx.text(q, weight="bold"), rx.text(a, color=MUTED, size="2")))
                    for q, a in _FAQ],
                  spacing="3"),
    )
