"""Billing over HTTP: plans, Checkout, the portal and Stripe webhooks, against a local Stripe.

The app talks to `tests/stripe_server.py` (localstripe plus Checkout and the portal) only
through the `stripe` library over HTTP; webhooks are signed with Stripe's scheme and posted
to the app. See that module for how to complete a checkout.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from factories import bearer, render_payload, sign_in_api
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select
from stripe_server import (  # noqa: F401  (stripe_server is the session fixture)
    PRICE_ENTERPRISE,
    PRICE_PRO,
    UNREACHABLE_BASE,
    WEBHOOK_SECRET,
    app_env,
    cancel_subscription,
    checkout_completed_event,
    complete_checkout,
    create_subscription,
    customers_of_tenant,
    delayed_in_flight,
    deliver,
    get_checkout_session,
    get_subscription,
    hold_answers,
    latest_invoice,
    make_event,
    pay_checkout,
    received_webhooks,
    register_webhook_endpoint,
    release_answers,
    reset_stripe,
    session_id_from_url,
    signed,
    stripe_server,
)

from saas_app import routes
from saas_app.api.app import create_api
from saas_app.db import get_engine
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import AuditLog, StripeEvent, Subscription, Tenant
from saas_app.services.usage.metrics import base_quotas
from saas_app.services.usage.plans import PLANS, sold_plans
from saas_app.settings import get_settings

pytestmark = pytest.mark.db

ALICE = "alice@example.com"
GRACE_DAYS = 3  # not the default (7), so the tests show the setting is used
STRIPE_KEYS = ("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE",
               *[str(plan.price_setting) for plan in sold_plans()])


@dataclass
class StripeEnv:
    """The local Stripe this test's app is configured with; `set` changes settings for this test."""

    url: str
    monkeypatch: pytest.MonkeyPatch

    def set(self, **values: object) -> None:
        for key, value in values.items():
            self.monkeypatch.setenv(key, str(value))
        get_settings.cache_clear()


@pytest.fixture
def billing(stripe_server: str) -> Iterator[StripeEnv]:  # noqa: F811
    """The app configured for the local Stripe (emptied first); no Stripe settings afterwards."""
    reset_stripe(stripe_server)
    with pytest.MonkeyPatch.context() as mp:
        env = StripeEnv(stripe_server, mp)
        env.set(**app_env(stripe_server), BILLING_GRACE_DAYS=GRACE_DAYS)
        yield env
    get_settings.cache_clear()


@pytest.fixture
def no_billing() -> Iterator[None]:
    """No Stripe settings at all (also overriding a developer's .env)."""
    with pytest.MonkeyPatch.context() as mp:
        for key in STRIPE_KEYS:
            mp.setenv(key, "")
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


# --- helpers ---


def _sign_in(api: TestClient, mailbox: MailCatcher, email: str = ALICE) -> tuple[dict, str]:
    tokens = sign_in_api(api, mailbox, email)
    return bearer(tokens["access_token"]), tokens["user"]["tenant_id"]


def _get(api: TestClient, path: str, headers: dict) -> dict:
    response = api.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _plan(api: TestClient, headers: dict) -> str:
    return _get(api, "/api/auth/me", headers)["plan"]


def _limits(api: TestClient, headers: dict) -> dict:
    return {m: v["limit"] for m, v in _get(api, "/api/usage", headers)["metrics"].items()}


def _times(factor: int) -> dict:
    return {m: v * factor for m, v in base_quotas(get_settings()).items()}


def _checkout_url(api: TestClient, headers: dict, plan: str = "pro") -> str:
    response = api.post("/api/billing/checkout", json={"plan": plan}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["url"]


def _upgrade(api: TestClient, headers: dict, stripe_url: str) -> dict:
    """Checkout, pay on the local Stripe, deliver checkout.session.completed; returns the subscription."""
    checkout, response = pay_checkout(stripe_url, api, _checkout_url(api, headers))
    assert response.status_code == 200 and response.json()["result"] == "applied", response.text
    return get_subscription(stripe_url, checkout["subscription"])


def _tenant(tenant_id: str) -> Tenant:
    with Session(get_engine()) as fresh:
        tenant = fresh.get(Tenant, tenant_id)
        assert tenant is not None
        return tenant


def _count(model: type, *where: object) -> int:
    with Session(get_engine()) as fresh:
        return int(fresh.exec(select(func.count()).select_from(model).where(*where)).one())


def _submit(api: TestClient, headers: dict, **body: object) -> int:
    return api.post("/api/renders", json=render_payload(**body), headers=headers).status_code


# --- without Stripe ---


def test_without_stripe_keys_everyone_is_free_and_nothing_breaks(api: TestClient, mailbox: MailCatcher,
                                                                 no_billing: None) -> None:
    headers, _ = _sign_in(api, mailbox)

    plans = api.get("/api/billing/plans")
    assert plans.status_code == 200
    assert [p["id"] for p in plans.json()["plans"]] == list(PLANS.names())
    summary = _get(api, "/api/billing/subscription", headers)
    assert summary["plan"] == "free" and summary["billing_configured"] is False
    for path, body in (("/api/billing/checkout", {"plan": "pro"}), ("/api/billing/portal", None)):
        response = api.post(path, json=body, headers=headers)
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "billing_not_configured"
        assert "Free plan" in response.json()["message"]
    payload, sig = signed(make_event("invoice.paid", {"id": "in_1", "customer": "cus_1"}))
    assert api.post("/api/billing/webhook", content=payload, headers=sig).status_code == 503
    assert _submit(api, headers) == 202


# --- Checkout ---


def test_checkout_opens_a_subscription_session_for_one_customer_per_tenant(
        api: TestClient, mailbox: MailCatcher, billing: StripeEnv) -> None:
    headers, tenant_id = _sign_in(api, mailbox)

    first = _checkout_url(api, headers)
    customer_id = _tenant(tenant_id).stripe_customer_id
    second = _checkout_url(api, headers)
    third = _checkout_url(api, headers, "enterprise")

    assert customer_id and first.startswith(f"{billing.url}/_test/checkout/cs_")
    assert len({first, second, third}) == 3
    assert _tenant(tenant_id).stripe_customer_id == customer_id
    customers = customers_of_tenant(billing.url, tenant_id)
    assert [c["id"] for c in customers] == [customer_id] and customers[0]["email"] == ALICE
    checkout = get_checkout_session(billing.url, session_id_from_url(first))
    base = f"{get_settings().APP_BASE_URL}{routes.BILLING}"
    assert checkout["mode"] == "subscription" and checkout["status"] == "open"
    assert checkout["customer"] == customer_id and checkout["client_reference_id"] == tenant_id
    assert [i["price"]["id"] for i in checkout["line_items"]["data"]] == [PRICE_PRO]
    assert checkout["success_url"].startswith(f"{base}?") and checkout["cancel_url"].startswith(f"{base}?")
    assert checkout["metadata"]["tenant_id"] == tenant_id
    assert checkout["subscription_data"]["metadata"]["tenant_id"] == tenant_id
    enterprise = get_checkout_session(billing.url, session_id_from_url(third))
    assert [i["price"]["id"] for i in enterprise["line_items"]["data"]] == [PRICE_ENTERPRISE]
    assert _count(AuditLog, AuditLog.tenant_id == tenant_id, AuditLog.action == "billing.checkout_started") == 3


def test_parallel_checkouts_still_create_one_customer(api: TestClient, mailbox: MailCatcher,
                                                      billing: StripeEnv) -> None:
    headers, tenant_id = _sign_in(api, mailbox)
    codes: list[int] = []

    def run() -> None:
        with TestClient(create_api(), base_url="http://testserver") as client:
            codes.append(client.post("/api/billing/checkout", json={"plan": "pro"}, headers=headers).status_code)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert codes == [200] * 4
    customers = customers_of_tenant(billing.url, tenant_id)
    assert [c["id"] for c in customers] == [_tenant(tenant_id).stripe_customer_id]


def test_checkout_refuses_unknown_plans_and_the_current_plan(api: TestClient, mailbox: MailCatcher,
                                                             billing: StripeEnv) -> None:
    headers, tenant_id = _sign_in(api, mailbox)

    for plan in ("gold", "free", ""):
        response = api.post("/api/billing/checkout", json={"plan": plan}, headers=headers)
        assert response.status_code == 422, response.text
        assert response.json()["message"]
    assert _tenant(tenant_id).stripe_customer_id is None and customers_of_tenant(billing.url, tenant_id) == []

    _upgrade(api, headers, billing.url)
    response = api.post("/api/billing/checkout", json={"plan": "pro"}, headers=headers)
    assert response.status_code == 409 and response.json()["error"] == "conflict"
    assert "already on the Pro plan" in response.json()["message"]


def test_a_completed_checkout_makes_the_tenant_pro(api: TestClient, mailbox: MailCatcher,
                                                   billing: StripeEnv) -> None:
    headers, tenant_id = _sign_in(api, mailbox)
    assert _plan(api, headers) == "free" and _limits(api, headers) == _times(1)

    sub = _upgrade(api, headers, billing.url)

    assert sub["status"] == "active" and sub["metadata"]["tenant_id"] == tenant_id
    assert _plan(api, headers) == "pro" and _limits(api, headers) == _times(5)
    summary = _get(api, "/api/billing/subscription", headers)
    assert summary["plan"] == "pro" and summary["status"] == "active" and summary["billing_configured"]
    period_end = datetime.fromtimestamp(sub["current_period_end"], UTC)
    assert datetime.fromisoformat(summary["current_period_end"]).replace(tzinfo=UTC) == period_end
    assert summary["cancel_at_period_end"] is False and summary["grace_until"] is None
    with Session(get_engine()) as fresh:
        row = fresh.get(Subscription, tenant_id)
        assert row is not None and (row.stripe_subscription_id, row.price_id) == (sub["id"], PRICE_PRO)
    assert _count(StripeEvent, StripeEvent.tenant_id == tenant_id) == 1


def test_a_deleted_subscription_goes_back_to_free(api: TestClient, mailbox: MailCatcher,
                                                  billing: StripeEnv) -> None:
    headers, _ = _sign_in(api, mailbox)
    sub = _upgrade(api, headers, billing.url)

    canceled = cancel_subscription(billing.url, sub["id"])
    response = deliver(api, make_event("customer.subscription.deleted", canceled))

    assert response.status_code == 200 and response.json()["result"] == "applied", response.text
    assert _plan(api, headers) == "free" and _limits(api, headers) == _times(1)
    summary = _get(api, "/api/billing/subscription", headers)
    assert summary["plan"] == "free" and summary["status"] == "canceled"


def test_a_failed_payment_keeps_the_plan_for_the_grace_period(api: TestClient, mailbox: MailCatcher,
                                                              billing: StripeEnv, session: Session) -> None:
    headers, tenant_id = _sign_in(api, mailbox)
    sub = _upgrade(api, headers, billing.url)
    invoice = latest_invoice(billing.url, sub["customer"])

    response = deliver(api, make_event("invoice.payment_failed", dict(invoice, status="open")))

    assert response.status_code == 200 and response.json()["result"] == "applied", response.text
    grace = _tenant(tenant_id).plan_grace_until
    expected = datetime.now(UTC) + timedelta(days=GRACE_DAYS)
    assert grace is not None and abs(grace.replace(tzinfo=UTC) - expected) < timedelta(minutes=1)
    assert _plan(api, headers) == "pro" and _get(api, "/api/billing/subscription", headers)["grace_until"]

    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    tenant.plan_grace_until = datetime.now(UTC) - timedelta(minutes=1)  # the grace period is over
    session.add(tenant)
    session.commit()
    assert _plan(api, headers) == "free" and _limits(api, headers) == _times(1)
    assert _submit(api, headers, resolution="1080p") == 402

    response = deliver(api, make_event("customer.subscription.updated", dict(sub, status="active")))

    assert response.status_code == 200 and response.json()["result"] == "applied", response.text
    assert _tenant(tenant_id).plan_grace_until is None
    assert _plan(api, headers) == "pro" and _limits(api, headers) == _times(5)


# --- webhook delivery: signatures, duplicates, order ---


def test_a_bad_signature_is_refused_and_changes_nothing(api: TestClient, mailbox: MailCatcher,
                                                        billing: StripeEnv) -> None:
    headers, tenant_id = _sign_in(api, mailbox)
    checkout = complete_checkout(billing.url, session_id_from_url(_checkout_url(api, headers)))
    event = checkout_completed_event(checkout)
    payload, good = signed(event)

    attempts = [
        signed(event, secret="whsec_someone_else")[1],
        {"Stripe-Signature": good["Stripe-Signature"].replace("v1=", "v1=0")},
        {"Content-Type": "application/json"},
        signed(event, timestamp=int(time.time()) - 301)[1],  # older than the 300 s tolerance
    ]
    for sig in attempts:
        response = api.post("/api/billing/webhook", content=payload, headers=sig)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_signature"
    tampered = payload.replace(tenant_id, "someone-else")
    assert api.post("/api/billing/webhook", content=tampered, headers=good).status_code == 400

    assert _count(StripeEvent) == 0 and _plan(api, headers) == "free"
    assert _count(AuditLog, AuditLog.action.startswith("billing.checkout.")) == 0  # type: ignore[attr-defined]
    assert api.post("/api/billing/webhook", content=payload, headers=good).status_code == 200
    assert _plan(api, headers) == "pro"


def test_ten_parallel_duplicates_apply_once(api: TestClient, mailbox: MailCatcher, billing: StripeEnv) -> None:
    headers, tenant_id = _sign_in(api, mailbox)
    checkout = complete_checkout(billing.url, session_id_from_url(_checkout_url(api, headers)))
    event = checkout_completed_event(checkout)
    payload, sig = signed(event)
    barrier = threading.Barrier(10)
    answers: list[tuple[int, str]] = []

    def post() -> None:
        with TestClient(create_api(), base_url="http://testserver") as client:
            barrier.wait()
            response = client.post("/api/billing/webhook", content=payload, headers=sig)
            answers.append((response.status_code, response.json().get("result", response.text)))

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [(200, "applied")] + [(200, "duplicate")] * 9
    assert _count(StripeEvent) == 1
    assert _count(AuditLog, AuditLog.target == event["id"]) == 1
    assert _plan(api, headers) == "pro"
    assert _tenant(tenant_id).plan == "pro"


def test_an_older_event_never_rolls_back_a_newer_one(api: TestClient, mailbox: MailCatcher,
                                                     billing: StripeEnv) -> None:
    headers, tenant_id = _sign_in(api, mailbox)
    checkout = complete_checkout(billing.url, session_id_from_url(_checkout_url(api, headers)))
    sub = get_subscription(billing.url, checkout["subscription"])
    now = int(time.time())

    newer = deliver(api, make_event("customer.subscription.updated", dict(sub, status="active"), created=now + 10))
    older = deliver(api, make_event("customer.subscription.updated", dict(copy.deepcopy(sub), status="canceled"),
                                    created=now))

    assert newer.status_code == 200 and newer.json()["result"] == "applied", newer.text
    assert older.status_code == 200 and older.json()["result"] == "stale", older.text
    assert _plan(api, headers) == "pro"
    with Session(get_engine()) as fresh:
        row = fresh.get(Subscription, tenant_id)
        assert row is not None and (row.status, row.state_at) == ("active", now + 10)


def test_an_older_failed_payment_does_not_start_grace_after_a_newer_recovery(
        api: TestClient, mailbox: MailCatcher, billing: StripeEnv) -> None:
    """Stripe does not deliver in order: the payment failed at T, the retry succeeded at T+10."""
    headers, tenant_id = _sign_in(api, mailbox)
    sub = _upgrade(api, headers, billing.url)
    invoice = latest_invoice(billing.url, sub["customer"])
    now = int(time.time())

    recovered = deliver(api, make_event("customer.subscription.updated", dict(sub, status="active"), created=now + 10))
    late = deliver(api, make_event("invoice.payment_failed", dict(invoice, status="open"), created=now))

    assert recovered.status_code == 200 and late.status_code == 200, late.text
    assert _tenant(tenant_id).plan_grace_until is None, "an older failure started a grace period after recovery"
    assert late.json()["result"] == "stale", late.text


def test_ending_a_replaced_subscription_keeps_the_plan_of_the_live_one(
        api: TestClient, mailbox: MailCatcher, billing: StripeEnv) -> None:
    """Pro was replaced by an Enterprise subscription (made in Stripe); then the old Pro one ends."""
    headers, tenant_id = _sign_in(api, mailbox)
    pro = _upgrade(api, headers, billing.url)
    enterprise = create_subscription(billing.url, pro["customer"], PRICE_ENTERPRISE, {"tenant_id": tenant_id})
    assert deliver(api, make_event("customer.subscription.created", enterprise)).json()["result"] == "applied"
    assert _plan(api, headers) == "enterprise"

    response = deliver(api, make_event("customer.subscription.deleted", cancel_subscription(billing.url, pro["id"])))

    assert response.status_code == 200, response.text
    assert _plan(api, headers) == "enterprise", "the end of a subscription that was replaced downgraded the tenant"


def test_events_signed_by_the_local_stripe_itself_are_accepted(api: TestClient, mailbox: MailCatcher,
                                                                billing: StripeEnv) -> None:
    """What a browser test gets by registering the app's webhook URL: localstripe's own deliveries."""
    headers, _ = _sign_in(api, mailbox)
    register_webhook_endpoint(billing.url, f"{billing.url}/_test/inbox", WEBHOOK_SECRET)
    complete_checkout(billing.url, session_id_from_url(_checkout_url(api, headers)))

    wanted = {"checkout.session.completed", "customer.subscription.created"}
    deadline = time.monotonic() + 10
    while not wanted <= {w["type"] for w in received_webhooks(billing.url)} and time.monotonic() < deadline:
        time.sleep(0.1)
    deliveries = received_webhooks(billing.url)
    assert wanted <= {w["type"] for w in deliveries}

    for delivery in deliveries:
        response = api.post("/api/billing/webhook", content=delivery["payload"],
                            headers={"Stripe-Signature": delivery["signature"], "Content-Type": "application/json"})
        assert response.status_code == 200, (delivery["type"], response.text)
    assert _plan(api, headers) == "pro"


# --- Stripe down or slow ---


def test_stripe_unreachable_is_a_plain_502_and_nothing_is_half_written(api: TestClient, mailbox: MailCatcher,
                                                                        billing: StripeEnv) -> None:
    headers, tenant_id = _sign_in(api, mailbox)
    billing.set(STRIPE_API_BASE=UNREACHABLE_BASE)

    response = api.post("/api/billing/checkout", json={"plan": "pro"}, headers=headers)

    assert response.status_code == 502, response.text
    assert response.json()["error"] == "billing_error"
    assert "couldn't reach our payment provider" in response.json()["message"]
    assert _tenant(tenant_id).stripe_customer_id is None
    assert _count(AuditLog, AuditLog.action == "billing.checkout_started") == 0
    assert _get(api, "/api/billing/subscription", headers)["plan"] == "free"
    assert _submit(api, headers) == 202


def test_a_webhook_that_cannot_reach_stripe_is_applied_when_redelivered(
        api: TestClient, mailbox: MailCatcher, billing: StripeEnv) -> None:
    headers, _ = _sign_in(api, mailbox)
    checkout = complete_checkout(billing.url, session_id_from_url(_checkout_url(api, headers)))
    event = checkout_completed_event(checkout)
    billing.set(STRIPE_API_BASE=UNREACHABLE_BASE)

    first = deliver(api, event)  # the subscription cannot be fetched: Stripe will redeliver

    assert first.status_code == 502, first.text
    assert _count(StripeEvent) == 0, "the event id was kept although its effects were rolled back"
    billing.set(STRIPE_API_BASE=billing.url)
    again = deliver(api, event)
    assert again.status_code == 200 and again.json()["result"] == "applied", again.text
    assert _plan(api, headers) == "pro"


def test_a_slow_stripe_does_not_stall_other_requests(api: TestClient, mailbox: MailCatcher,
                                                     billing: StripeEnv) -> None:
    """The webhook fetches the subscription from Stripe; other requests on the server must go on."""
    headers, _ = _sign_in(api, mailbox)
    checkout = complete_checkout(billing.url, session_id_from_url(_checkout_url(api, headers)))
    hold_answers(billing.url, "/v1/subscriptions/")  # Stripe answers only when the test says so
    webhook: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: webhook.append(deliver(api, checkout_completed_event(checkout))))
    thread.start()
    deadline = time.monotonic() + 30
    while delayed_in_flight(billing.url) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # until the webhook is waiting on Stripe
    assert delayed_in_flight(billing.url) == 1

    health: list[httpx.Response] = []  # the same app and event loop as the webhook, as in production
    checker = threading.Thread(target=lambda: health.append(api.get("/api/health")))
    checker.start()
    checker.join(timeout=60)  # a blocked loop cannot answer before the release below, however long we wait
    answered_while_stripe_held = bool(health)
    release_answers(billing.url)
    thread.join()
    checker.join()

    assert answered_while_stripe_held, "/api/health waited for the webhook's Stripe call: the event loop was blocked"
    assert health[0].status_code == 200 and webhook[0].status_code == 200


# --- what the plan unlocks, and the portal ---


def test_premium_output_needs_pro_and_unlocks_after_upgrade(api: TestClient, mailbox: MailCatcher,
                                                            billing: StripeEnv) -> None:
    headers, _ = _sign_in(api, mailbox)

    refused = api.post("/api/renders", json=render_payload(resolution="1080p"), headers=headers)

    assert refused.status_code == 402, refused.text
    assert refused.json()["error"] == "plan_required" and refused.json()["required_plan"] == "pro"
    _upgrade(api, headers, billing.url)
    assert _submit(api, headers, resolution="1080p") == 202


def test_the_portal_needs_a_billing_account_then_opens_on_stripe(api: TestClient, mailbox: MailCatcher,
                                                                 billing: StripeEnv) -> None:
    headers, tenant_id = _sign_in(api, mailbox)

    before = api.post("/api/billing/portal", headers=headers)
    assert before.status_code == 409, before.text
    assert "choose a paid plan first" in before.json()["message"]

    _upgrade(api, headers, billing.url)
    response = api.post("/api/billing/portal", headers=headers)

    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert url.startswith(f"{billing.url}/_test/portal/bps_")
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and PRICE_PRO in page.text
    assert f"{get_settings().APP_BASE_URL}{routes.BILLING}" in page.text
    assert _count(AuditLog, AuditLog.tenant_id == tenant_id, AuditLog.action == "billing.portal_opened") == 1
