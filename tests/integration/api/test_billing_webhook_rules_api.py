"""Stripe webhooks delivered out of order, at the same second, or with odd fields (signed with
Stripe's scheme, posted over HTTP): ordered per subscription and per invoice, never a 500."""

from __future__ import annotations

import json
import logging
import time

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from stripe_server import (  # noqa: F401  (stripe_server is the session fixture)
    cancel_subscription,
    deliver,
    latest_invoice,
    make_event,
    signature_header,
    stripe_server,
)
from test_billing_api import (  # noqa: F401  (billing is a fixture)
    StripeEnv,
    _count,
    _get,
    _plan,
    _sign_in,
    _tenant,
    _upgrade,
    billing,
)

from saas_app.db import get_engine
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.models import StripeEvent, Subscription

pytestmark = pytest.mark.db


@pytest.fixture
def stripe_env(billing: StripeEnv) -> StripeEnv:  # noqa: F811
    """The app configured for the local Stripe (see test_billing_api.billing)."""
    return billing


def _result(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return str(response.json()["result"])


def _subscription_row(tenant_id: str) -> Subscription:
    with Session(get_engine()) as fresh:
        row = fresh.get(Subscription, tenant_id)
        assert row is not None
        return row


# Item 7: a canceled subscription is final


def test_a_canceled_subscription_never_comes_back(api: TestClient, mailbox: MailCatcher, stripe_env: StripeEnv) -> None:
    """created (active, T), deleted (T+20) and updated (active, cancel_at_period_end, T+20), the deletion first."""
    headers, tenant_id = _sign_in(api, mailbox)
    sub = _upgrade(api, headers, stripe_env.url)
    at = int(time.time()) + 5
    canceled = cancel_subscription(stripe_env.url, sub["id"])

    deleted = deliver(api, make_event("customer.subscription.deleted", canceled, created=at + 20))
    updated = deliver(api, make_event("customer.subscription.updated",
                                      dict(sub, status="active", cancel_at_period_end=True), created=at + 20))
    created = deliver(api, make_event("customer.subscription.created", dict(sub, status="active"), created=at))
    later = deliver(api, make_event("customer.subscription.updated", dict(sub, status="active"), created=at + 90))

    assert _result(deleted) == "applied"
    assert [_result(r) for r in (updated, created, later)] == ["stale", "stale", "stale"]
    assert _plan(api, headers) == "free"
    assert _get(api, "/api/billing/subscription", headers)["status"] == "canceled"
    assert _subscription_row(tenant_id).status == "canceled"


def test_at_the_same_second_a_subscription_status_never_moves_back(
        api: TestClient, mailbox: MailCatcher, stripe_env: StripeEnv) -> None:
    headers, tenant_id = _sign_in(api, mailbox)
    sub = _upgrade(api, headers, stripe_env.url)
    at = int(time.time()) + 5

    active = deliver(api, make_event("customer.subscription.updated", dict(sub, status="active"), created=at))
    back = deliver(api, make_event("customer.subscription.updated", dict(sub, status="incomplete"), created=at))
    forward = deliver(api, make_event("customer.subscription.updated", dict(sub, status="past_due"), created=at))

    assert [_result(r) for r in (active, back, forward)] == ["applied", "stale", "applied"]
    assert _subscription_row(tenant_id).status == "past_due"
    assert _plan(api, headers) == "pro" and _tenant(tenant_id).plan_grace_until is not None


# Item 8: invoice events ordered per invoice and per subscription


def test_a_late_failure_for_a_paid_invoice_is_stale(api: TestClient, mailbox: MailCatcher,
                                                    stripe_env: StripeEnv) -> None:
    """invoice.paid (T+20), then a late invoice.payment_failed (T+10) for the same invoice."""
    headers, tenant_id = _sign_in(api, mailbox)
    sub = _upgrade(api, headers, stripe_env.url)
    invoice = latest_invoice(stripe_env.url, sub["customer"])
    at = int(time.time()) + 5

    paid = deliver(api, make_event("invoice.paid", dict(invoice, status="paid"), created=at + 20))
    late = deliver(api, make_event("invoice.payment_failed", dict(invoice, status="open"), created=at + 10))

    assert (_result(paid), _result(late)) == ("applied", "stale")
    assert _tenant(tenant_id).plan_grace_until is None
    assert _get(api, "/api/billing/subscription", headers)["grace_until"] is None
    assert _plan(api, headers) == "pro"


def test_a_failure_for_an_invoice_older_than_the_latest_paid_one_is_stale(
        api: TestClient, mailbox: MailCatcher, stripe_env: StripeEnv) -> None:
    headers, tenant_id = _sign_in(api, mailbox)
    sub = _upgrade(api, headers, stripe_env.url)
    old = latest_invoice(stripe_env.url, sub["customer"])
    new = dict(old, id=f"{old['id']}_next", created=old["created"] + 3600, status="paid")
    at = int(time.time()) + 5

    paid = deliver(api, make_event("invoice.paid", new, created=at + 20))
    late = deliver(api, make_event("invoice.payment_failed", dict(old, status="open"), created=at + 30))

    assert (_result(paid), _result(late)) == ("applied", "stale")
    assert _tenant(tenant_id).plan_grace_until is None


def test_a_failure_whose_invoice_says_paid_is_stale(api: TestClient, mailbox: MailCatcher,
                                                    stripe_env: StripeEnv) -> None:
    headers, tenant_id = _sign_in(api, mailbox)
    sub = _upgrade(api, headers, stripe_env.url)
    invoice = latest_invoice(stripe_env.url, sub["customer"])

    late = deliver(api, make_event("invoice.payment_failed", dict(invoice, status="paid"),
                                   created=int(time.time()) + 5))

    assert _result(late) == "stale"
    assert _tenant(tenant_id).plan_grace_until is None


def test_paying_an_older_invoice_does_not_end_the_grace_of_a_newer_failure(
        api: TestClient, mailbox: MailCatcher, stripe_env: StripeEnv) -> None:
    headers, tenant_id = _sign_in(api, mailbox)
    sub = _upgrade(api, headers, stripe_env.url)
    old = latest_invoice(stripe_env.url, sub["customer"])
    new = dict(old, id=f"{old['id']}_next", created=old["created"] + 3600, status="open")
    at = int(time.time()) + 5

    failed = deliver(api, make_event("invoice.payment_failed", new, created=at + 10))
    old_paid = deliver(api, make_event("invoice.paid", dict(old, status="paid"), created=at + 20))
    assert (_result(failed), _result(old_paid)) == ("applied", "applied")
    assert _tenant(tenant_id).plan_grace_until is not None, "paying last month's invoice ended this month's grace"

    new_paid = deliver(api, make_event("invoice.paid", dict(new, status="paid"), created=at + 30))

    assert _result(new_paid) == "applied"
    assert _tenant(tenant_id).plan_grace_until is None and _plan(api, headers) == "pro"


# Item 9: odd signed payloads never answer 500


@pytest.mark.parametrize(("kind", "change"), [
    ("customer.subscription.updated", {"metadata": {"tenant_id": ["t1", "t2"]}}),
    ("customer.subscription.updated", {"current_period_end": "next tuesday"}),
    ("customer.subscription.updated", {"current_period_end": 2**63}),
    ("customer.subscription.updated", {"status": "resurrected"}),
    ("customer.subscription.updated", {"items": {"data": "lots"}}),
    ("customer.subscription.deleted", {"id": {"nested": True}}),
    ("customer.subscription.updated", {"cancel_at_period_end": "perhaps"}),
    ("invoice.payment_failed", {"metadata": {"tenant_id": {"$ne": None}}, "object": "invoice", "id": "in_x"}),
    ("invoice.paid", {"created": "yesterday", "object": "invoice", "id": "in_x"}),
    ("checkout.session.completed", {"client_reference_id": 42, "subscription": ["sub_1"]}),
], ids=["tenant-id-list", "period-end-text", "period-end-2**63", "unknown-status", "items-not-list", "id-object",
        "flag-text", "invoice-tenant-object", "invoice-created-text", "checkout-odd-ids"])
def test_an_event_with_an_odd_field_is_acknowledged_as_ignored_and_changes_nothing(
        api: TestClient, mailbox: MailCatcher, stripe_env: StripeEnv, caplog: pytest.LogCaptureFixture,
        kind: str, change: dict) -> None:
    headers, tenant_id = _sign_in(api, mailbox)
    sub = _upgrade(api, headers, stripe_env.url)
    before = _subscription_row(tenant_id)
    event = make_event(kind, {**sub, "metadata": {"tenant_id": tenant_id}, **change}, created=int(time.time()) + 5)

    with caplog.at_level(logging.WARNING, logger="saas_app.services.billing.webhooks"):
        response = deliver(api, event)

    assert _result(response) == "ignored"
    assert any(event["id"] in r.getMessage() and "not valid" in r.getMessage() for r in caplog.records)
    assert _subscription_row(tenant_id) == before and _plan(api, headers) == "pro"
    assert _result(deliver(api, event)) == "duplicate"


@pytest.mark.parametrize("body", [
    json.dumps({"id": "evt_1", "type": "invoice.paid", "created": "yesterday", "data": {"object": {}}}),
    json.dumps({"id": "evt_1", "type": "invoice.paid", "created": 2**40, "data": {"object": {}}}),
    json.dumps({"id": ["evt_1"], "type": "invoice.paid", "created": 1, "data": {"object": {}}}),
    json.dumps({"id": "evt_1", "type": "invoice.paid", "created": 1}),
    json.dumps({"id": "evt_1", "type": "invoice.paid", "created": 1, "data": {"object": "in_1"}}),
    json.dumps([1, 2, 3]),
    "not json at all",
], ids=["created-text", "created-2**40", "id-list", "no-data", "object-string", "a-list", "not-json"])
def test_a_signed_body_that_is_not_an_event_is_400_and_changes_nothing(
        api: TestClient, mailbox: MailCatcher, stripe_env: StripeEnv, body: str) -> None:
    headers, tenant_id = _sign_in(api, mailbox)
    _upgrade(api, headers, stripe_env.url)
    events_before = _count(StripeEvent)
    sig = {"Stripe-Signature": signature_header(body), "Content-Type": "application/json"}

    response = api.post("/api/billing/webhook", content=body, headers=sig)

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_payload"
    assert _count(StripeEvent) == events_before and _plan(api, headers) == "pro"


def test_a_body_that_is_not_utf8_is_refused_as_unsigned(api: TestClient, stripe_env: StripeEnv) -> None:
    response = api.post("/api/billing/webhook", content=b"\xff\xfe{}", headers={"Stripe-Signature": "t=1,v1=00"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_signature", response.text
