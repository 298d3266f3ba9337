"""Billing as a user sees it: plans, upgrading through (local) Stripe Checkout, canceling it, the portal.

The app talks to the local Stripe server of tests/stripe_server.py; its hosted Checkout page
has a "Subscribe" button (#pay) that creates a real subscription and sends the signed
webhooks to the app about a second later, and a "Back" link (#cancel).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import pytest
from e2e_helpers import LiveApp, expect_usage, screenshot, url_re
from playwright.sync_api import Page, expect
from stripe_server import (
    customers_of_tenant,
    get_checkout_session,
    list_all,
    session_id_from_url,
)

from saas_app.services.renders.charging import CHARGE_RULE
from saas_app.services.usage.plans import PLANS

pytestmark = pytest.mark.e2e

PLAN_IDS = list(PLANS.names())
NEW_TAB_BUG = ("saas_app/state/billing.py:133 and :151 redirect with rx.redirect(url, is_external=True), which "
               "Reflex turns into window.open(url, '_blank') after a websocket round trip: Checkout and the portal "
               "open in a new tab (and a browser's popup blocker may stop them) instead of this one")
RENEWS_AFTER_CANCEL_BUG = ("saas_app/state/billing.py BillingState._show sets `renewal` whatever the status, so a "
                           "subscription canceled in the portal shows 'Free · Canceled' with 'Renews on <date>'")
STRIPE_WAIT_S = 15
PORTAL_WEBHOOK_WAIT_S = 15


def open_billing(page: Page) -> None:
    """Go to /billing through the top bar and wait for the plan cards."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    expect(page).to_have_url(url_re("/billing"))
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    expect(page.locator(".plan-card")).to_have_count(len(PLAN_IDS))


def expect_free(page: Page) -> None:
    """The billing page of a Free workspace."""
    expect(page.locator("#current-plan")).to_have_text("Free")
    expect(page.locator("#plan-status")).to_have_text("Active")
    expect(page.locator(".plan-card[data-plan='free']")).to_contain_text("Current plan")
    expect(page.locator(".plan-card[data-plan='pro']")).not_to_contain_text("Current plan")
    expect(page.locator("#upgrade-pro")).to_be_enabled()
    expect(page.locator("#upgrade-enterprise")).to_be_enabled()
    expect(page.locator("#upgrade-free")).to_have_count(0)
    expect(page.locator("#manage-billing")).to_have_count(0)
    expect_usage(page, "images_count", "0 / 6")


def follow_to_stripe(page: Page, button: str, url: re.Pattern[str]) -> Page:
    """Click a button that sends the browser to Stripe; returns the page that shows Stripe.

    That is `page` itself once NEW_TAB_BUG is fixed; until then it is the tab the app opens.
    """
    before = set(page.context.pages)
    page.locator(button).click()
    deadline = time.monotonic() + STRIPE_WAIT_S
    while not url.match(page.url):
        opened = [p for p in page.context.pages if p not in before]
        if opened:
            opened[0].wait_for_url(url)
            return opened[0]
        assert time.monotonic() < deadline, f"{button} did not lead to {url.pattern} (still on {page.url})"
        page.wait_for_timeout(100)
    return page


def checkout_re(stripe: str) -> re.Pattern[str]:
    """The local Stripe's hosted Checkout page."""
    return re.compile(rf"^{re.escape(stripe)}/_test/checkout/cs_test_\w+$")


def wait_for_webhooks_delivered(stripe: str) -> None:
    """Until the Stripe server has no webhook delivery left to make (the event, not a number of seconds)."""
    deadline = time.monotonic() + 30
    while httpx.get(f"{stripe}/_test/webhooks/pending").json()["pending"]:
        assert time.monotonic() < deadline, "webhooks still pending after 30 s"
        time.sleep(0.05)


def go_to_checkout(page: Page, stripe: str) -> Page:
    """Click "Upgrade to Pro" and land on the local Stripe Checkout page (returns the page showing it)."""
    page = follow_to_stripe(page, "#upgrade-pro", checkout_re(stripe))
    expect(page.get_by_role("heading", name="Test Checkout")).to_be_visible()
    expect(page.locator("#product")).to_have_text("Narrated Studio Pro")
    expect(page.locator("#amount")).to_have_text("29.00 EUR / month")
    expect(page.locator("#status")).to_have_text("open")
    return page


def upgrade_to_pro(page: Page, stripe: str) -> Page:
    """From /billing on Free: Checkout, pay, and wait for the webhook; returns the page showing /billing."""
    page = go_to_checkout(page, stripe)
    page.locator("#pay").click()
    expect(page).to_have_url(url_re("/billing", r"checkout=success&plan=pro$"))
    expect(page.locator("#billing-message")).to_have_text("You're on Pro now.", timeout=30_000)
    return page


def tenant_plan(live_app: LiveApp, email: str) -> str:
    """The plan stored for the workspace of `email`."""
    with live_app.db() as db:
        row = db.execute("SELECT t.plan FROM tenant t JOIN membership m ON m.tenant_id = t.id "
                         "JOIN user u ON u.id = m.user_id WHERE u.email = ?",
                         (email,)).fetchone()
    assert row is not None, f"no workspace for {email}"
    return str(row[0])


def cancel_in_portal(page: Page, stripe: str, live_app: LiveApp, email: str) -> Page:
    """From /billing on a paid plan: cancel the plan in the portal, come back, and reload once the webhook landed.

    The page does not poll after the portal, so the test waits for the stored plan and then reloads
    (reloading in a loop instead can catch the webhook between the banner's loader and the page's, which
    leaves Free on the page and Pro limits in the banner: saas_app/state/billing.py load does not refresh the banner).
    """
    page = follow_to_stripe(page, "#manage-billing", re.compile(rf"^{re.escape(stripe)}/_test/portal/bps_\w+$"))
    expect(page.locator("#subscriptions")).to_contain_text("active")
    page.locator("#cancel-subscription").click()
    expect(page).to_have_url(url_re("/billing"))
    deadline = time.monotonic() + PORTAL_WEBHOOK_WAIT_S
    while tenant_plan(live_app, email) != "free":
        assert time.monotonic() < deadline, "the plan did not go back to Free after canceling in the portal"
        time.sleep(0.2)
    page.reload()
    expect(page.locator("#current-plan")).to_have_text("Free")
    return page


def test_free_workspace_sees_plans_and_faq(page: Page, sign_in: Callable[..., object], local_stripe: str,
                                           email: str) -> None:
    sign_in(page, email)
    open_billing(page)
    expect_free(page)
    expect(page.locator("#billing-not-configured")).to_have_count(0)
    expect(page.locator("#billing-message")).to_have_count(0)
    cards = page.locator(".plan-card")
    assert [cards.nth(i).get_attribute("data-plan") for i in range(len(PLAN_IDS))] == PLAN_IDS
    expect(page.locator(".plan-card[data-plan='free']")).to_contain_text("Images 6 ·")
    expect(page.locator(".plan-card[data-plan='pro']")).to_contain_text("$29/month")
    expect(page.locator(".plan-card[data-plan='pro']")).to_contain_text("Images 30 ·")
    expect(page.locator(".plan-card[data-plan='enterprise']")).to_contain_text("Unlimited usage")
    expect(page.get_by_role("heading", name="Questions")).to_be_visible()
    for question in ("When am I billed?", "Can I cancel?", "What happens over quota?", "What if a payment fails?"):
        expect(page.get_by_text(question)).to_be_visible()
    expect(page.get_by_text(CHARGE_RULE)).to_be_visible()  # what a canceled or failed video costs
    screenshot(page, "billing-01-free")


def test_upgrade_to_pro_through_checkout_then_manage_billing(page: Page, sign_in: Callable[..., object],
                                                             local_stripe: str, live_app: LiveApp, email: str) -> None:
    sign_in(page, email)
    open_billing(page)
    expect_free(page)

    page = go_to_checkout(page, local_stripe)
    checkout_url = page.url
    screenshot(page, "billing-02-checkout")
    page.locator("#pay").click()
    expect(page).to_have_url(url_re("/billing", r"checkout=success&plan=pro$"))
    message = page.locator("#billing-message")
    expect(message).to_have_text("You're on Pro now.", timeout=30_000)  # after the webhook landed (it polls)
    expect(message).to_have_attribute("role", "status")
    expect(page.locator("#current-plan")).to_have_text("Pro")
    expect(page.locator("#plan-status")).to_have_text("Active")
    expect(page.locator(".plan-card[data-plan='pro']")).to_contain_text("Current plan")
    expect(page.locator("#upgrade-pro")).to_have_count(0)
    expect(page.get_by_text(re.compile(r"^Renews on \d{2} \w{3} \d{4}"))).to_be_visible()
    expect_usage(page, "images_count", "0 / 30")
    expect_usage(page, "tts_seconds", "0 min / 5,000 min")
    screenshot(page, "billing-03-pro")

    with live_app.db() as db:
        tenant = db.execute("SELECT m.tenant_id FROM membership m JOIN user u ON u.id = m.user_id "
                            "WHERE u.email = ?", (email,)).fetchone()[0]
    customers = customers_of_tenant(local_stripe, tenant)
    assert len(customers) == 1
    subs = list_all(local_stripe, "/v1/subscriptions", customer=customers[0]["id"])
    assert [(s["status"], s["plan"]["id"]) for s in subs] == [("active", "price_pro_test")]
    checkout = get_checkout_session(local_stripe, session_id_from_url(checkout_url))
    assert (checkout["status"], checkout["subscription"]) == ("complete", subs[0]["id"])

    page.reload()  # the plan is stored, not just shown
    expect(page.locator("#current-plan")).to_have_text("Pro")
    expect(page.locator("#billing-message")).to_have_text("You're on Pro now.")
    expect_usage(page, "images_count", "0 / 30")

    page = follow_to_stripe(page, "#manage-billing", re.compile(rf"^{re.escape(local_stripe)}/_test/portal/bps_\w+$"))
    expect(page.get_by_role("heading", name="Test Billing Portal")).to_be_visible()
    expect(page.locator("#subscriptions")).to_contain_text("price_pro_test: active")
    screenshot(page, "billing-04-portal")
    page.locator("#return").click()
    expect(page).to_have_url(url_re("/billing"))
    expect(page.locator("#current-plan")).to_have_text("Pro")

    page.locator("#upgrade-enterprise").click()  # a second subscription is refused in plain words
    expect(page.locator("#billing-message")).to_have_text(
        "You already have a subscription: use “Manage billing” to change your plan.")
    expect(page.locator("#current-plan")).to_have_text("Pro")


def test_plan_canceled_in_the_portal_goes_back_to_free(page: Page, sign_in: Callable[..., object],
                                                       local_stripe: str, live_app: LiveApp, email: str) -> None:
    sign_in(page, email)
    open_billing(page)
    page = upgrade_to_pro(page, local_stripe)
    expect_usage(page, "images_count", "0 / 30")
    page = cancel_in_portal(page, local_stripe, live_app, email)
    expect(page.locator("#current-plan")).to_have_text("Free")
    expect(page.locator(".plan-card[data-plan='free']")).to_contain_text("Current plan")
    expect(page.locator("#upgrade-pro")).to_be_enabled()
    expect(page.locator("#manage-billing")).to_have_count(0)
    expect_usage(page, "images_count", "0 / 6")
    screenshot(page, "billing-06-canceled-in-portal")


def test_canceled_plan_shows_no_renewal_date(page: Page, sign_in: Callable[..., object], local_stripe: str,
                                             live_app: LiveApp, email: str) -> None:
    sign_in(page, email)
    open_billing(page)
    page = cancel_in_portal(upgrade_to_pro(page, local_stripe), local_stripe, live_app, email)
    expect(page.locator("#current-plan")).to_have_text("Free")  # the billing state of after the cancel is shown
    expect(page.get_by_text(re.compile(r"^Renews on"))).to_have_count(0)


def test_canceled_checkout_keeps_free(page: Page, sign_in: Callable[..., object], local_stripe: str,
                                      email: str) -> None:
    sign_in(page, email)
    open_billing(page)
    page = go_to_checkout(page, local_stripe)
    page.locator("#cancel").click()
    expect(page).to_have_url(url_re("/billing", r"checkout=canceled$"))
    expect(page.locator("#billing-message")).to_have_text(
        "Checkout canceled. You have not been charged and your plan is unchanged.")
    expect_free(page)
    wait_for_webhooks_delivered(local_stripe)  # every event Stripe had to send has arrived; none changed the plan
    page.reload()
    expect(page.locator("#current-plan")).to_have_text("Free")
    screenshot(page, "billing-05-checkout-canceled")


def test_upgrade_and_manage_billing_stay_in_the_same_tab(page: Page, sign_in: Callable[..., object],
                                                         local_stripe: str, email: str) -> None:
    sign_in(page, email)
    open_billing(page)
    page.locator("#upgrade-pro").click()
    expect(page).to_have_url(checkout_re(local_stripe))
    assert len(page.context.pages) == 1
