"""A local Stripe for tests: localstripe's server plus what it lacks.

localstripe (PyPI) keeps real state for customers, products, plans, payment methods,
subscriptions and invoices, and signs webhooks the way Stripe does. It has no Checkout
Sessions, Prices or billing portal, so this module serves its routes in a new aiohttp app
next to these additions:

- ``POST /v1/checkout/sessions`` and ``GET /v1/checkout/sessions/{id}``: stored sessions whose
  ``url`` is a page on this server (``/_test/checkout/{id}``) with a "Pay" button.
- ``POST /v1/billing_portal/sessions``: a portal session whose ``url`` is ``/_test/portal/{id}``.
- ``POST /_test/checkout/{id}/complete``: what paying on Stripe's page does. It attaches a test
  card to the session's customer and creates a REAL localstripe subscription with
  ``items=[{"plan": <price id>}]`` (localstripe has plans, not prices; a plan is created at start
  for every plan the app sells, with the price id `app_env` configures for it), then marks the session
  ``complete``. JSON callers get the session back; a browser form post is redirected to
  ``success_url``. localstripe also queues a signed ``checkout.session.completed`` (and its own
  ``customer.subscription.created`` ...) for every endpoint registered with
  :func:`register_webhook_endpoint`, about one second later.
- ``Idempotency-Key`` is honoured like Stripe does (same key and body: the first response is
  replayed), which the app relies on to create one customer per tenant.
- ``POST /_test/reset`` forgets everything and recreates the plans; ``/_test/inbox`` is a webhook
  receiver that records deliveries (so tests can relay what localstripe signed);
  ``GET /_test/webhooks/pending`` counts deliveries not yet made (to wait until none is left).

The app reaches it only through the ``stripe`` library over HTTP (``STRIPE_API_BASE``). Use the
session-scoped ``stripe_server`` fixture (import it into a test module or conftest:
``from stripe_server import stripe_server  # noqa: F401``); it yields the base URL.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import html
import json
import secrets
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import pytest
import stripe
from aiohttp import web
from localstripe import resources as ls
from localstripe import webhooks as ls_webhooks
from localstripe.errors import UserError

from saas_app import routes
from saas_app.services.usage.plans import sold_plans

with warnings.catch_warnings():  # its module-level app registers plain-function handlers (deprecated)
    warnings.simplefilter("ignore", DeprecationWarning)
    from localstripe import server as ls_server

API_KEY = "sk_test_narrated_local_0123456789"
WEBHOOK_SECRET = "whsec_narrated_local_test_secret"
TEST_CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2034", "cvc": "123"}
WEBHOOK_PATH = routes.API_BILLING_WEBHOOK
UNREACHABLE_BASE = "http://127.0.0.1:1"  # nothing listens on port 1: connections are refused at once

# State of the additions (localstripe keeps its own in `localstripe.resources.store`).
_checkout_sessions: dict[str, dict] = {}
_portal_sessions: dict[str, dict] = {}
_idempotent: dict[tuple[str, str], tuple[str, int, bytes]] = {}
_idempotency_locks: dict[tuple[str, str], asyncio.Lock] = {}
_inbox: list[dict] = []
_delays: dict[str, float] = {}  # path prefix -> seconds to wait before answering (a slow Stripe)
_in_flight = {"delayed": 0}  # delayed requests not answered yet
_holds: dict[str, asyncio.Event] = {}  # path prefix -> answered only once released (a Stripe that hangs)

# localstripe pickles its whole store to /tmp/localstripe.pickle on every write; other test
# runs on this machine may use that file too, so this process keeps its store in memory only.
ls.store.dump_to_disk = lambda: None  # type: ignore[method-assign]


class _Exported:
    """Lets localstripe's `Event` carry one of our plain-dict objects."""

    def __init__(self, obj: dict) -> None:
        self._obj = obj

    def _export(self, expand: Any = None) -> dict:
        return copy.deepcopy(self._obj)


def _json(obj: Any, status: int = 200) -> web.Response:
    return ls_server.json_response(obj, status=status)


def _missing(kind: str, param: str, value: Any) -> UserError:
    return UserError(400, f"No such {kind}: '{value}'", {"param": param, "code": "resource_missing"})


def price_for(plan_id: str) -> str:
    """The price id this server sells a plan under (and `app_env` configures)."""
    return f"price_{plan_id}_test"


PRICE_PRO = price_for("pro")
PRICE_ENTERPRISE = price_for("enterprise")


def prices() -> dict[str, tuple[str, int]]:
    """Every plan the app sells (as registered now): price id -> (product name, monthly cents)."""
    return {price_for(plan.id): (f"Narrated Studio {plan.name}", plan.price_monthly * 100) for plan in sold_plans()}


def _seed_plans() -> None:
    for price_id, (name, amount) in prices().items():
        product_id = "prod_" + price_id.removeprefix("price_")
        ls.Product(id=product_id, name=name)
        ls.Plan(id=price_id, product=product_id, amount=amount, currency="eur", interval="month",
                nickname=name)


def _reset_state() -> None:
    ls.store.clear()
    ls_webhooks._webhooks.clear()
    _release_holds()
    for state in (_checkout_sessions, _portal_sessions, _idempotent, _idempotency_locks, _delays):
        state.clear()
    _inbox.clear()
    _seed_plans()
    current = asyncio.current_task()
    for task in asyncio.all_tasks():  # deliveries still waiting (old events, the plans just made): drop
        if task is not current and task.get_coro().__name__ == "_send_webhook":  # type: ignore[union-attr]
            task.cancel()


# --- Checkout and the billing portal -------------------------------------------------------


def _line_items(data: dict) -> list[dict]:
    items = data.get("line_items") or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise UserError(400, "Invalid line_items", {"param": "line_items"})
    result = []
    for item in items:
        price = item.get("price")
        if not isinstance(price, str) or f"plan:{price}" not in ls.store:
            raise _missing("price", "line_items[0][price]", price)
        quantity = ls.try_convert_to_int(item.get("quantity") or 1)
        result.append({"object": "item", "price": {"id": price, "object": "price"}, "quantity": quantity})
    return result


async def create_checkout_session(request: web.Request) -> web.Response:
    """POST /v1/checkout/sessions"""
    data = await ls_server.get_post_data(request) or {}
    mode = data.get("mode")
    if mode not in ("payment", "subscription", "setup"):
        raise UserError(400, "Invalid mode: must be payment, subscription or setup", {"param": "mode"})
    if not data.get("success_url"):
        raise UserError(400, "Missing required param: success_url.", {"param": "success_url"})
    customer = data.get("customer")
    if customer is not None and f"customer:{customer}" not in ls.store:
        raise _missing("customer", "customer", customer)
    items = _line_items(data)
    if mode == "subscription" and not items:
        raise UserError(400, "line_items is required in subscription mode", {"param": "line_items"})
    session_id = "cs_test_" + secrets.token_hex(12)
    now = int(time.time())
    _checkout_sessions[session_id] = {
        "id": session_id, "object": "checkout.session", "livemode": False, "created": now,
        "expires_at": now + 24 * 3600, "url": f"{request.url.origin()}/_test/checkout/{session_id}",
        "mode": mode, "status": "open", "payment_status": "unpaid", "customer": customer,
        "customer_email": data.get("customer_email"), "client_reference_id": data.get("client_reference_id"),
        "success_url": data["success_url"], "cancel_url": data.get("cancel_url"),
        "metadata": data.get("metadata") or {}, "subscription_data": data.get("subscription_data") or {},
        "subscription": None, "currency": "eur",
        "line_items": {"object": "list", "data": items, "has_more": False,
                       "url": f"/v1/checkout/sessions/{session_id}/line_items"},
    }
    return _json(_checkout_sessions[session_id])


def _checkout(request: web.Request) -> dict:
    session_id = request.match_info["id"]
    if session_id not in _checkout_sessions:
        raise UserError(404, f"No such checkout.session: '{session_id}'", {"code": "resource_missing"})
    return _checkout_sessions[session_id]


async def retrieve_checkout_session(request: web.Request) -> web.Response:
    """GET /v1/checkout/sessions/{id}"""
    return _json(_checkout(request))


async def create_portal_session(request: web.Request) -> web.Response:
    """POST /v1/billing_portal/sessions"""
    data = await ls_server.get_post_data(request) or {}
    customer = data.get("customer")
    if not customer:
        raise UserError(400, "Missing required param: customer.", {"param": "customer"})
    if f"customer:{customer}" not in ls.store:
        raise _missing("customer", "customer", customer)
    portal_id = "bps_" + secrets.token_hex(12)
    _portal_sessions[portal_id] = {
        "id": portal_id, "object": "billing_portal.session", "livemode": False, "created": int(time.time()),
        "customer": customer, "return_url": data.get("return_url"),
        "url": f"{request.url.origin()}/_test/portal/{portal_id}",
    }
    return _json(_portal_sessions[portal_id])


def _complete(checkout: dict) -> dict:
    """Pay for a session with the test card, as the customer would on Stripe's page."""
    if checkout["status"] == "complete":
        return checkout
    if checkout["status"] != "open":
        raise UserError(400, "This Checkout Session is no longer open.")
    customer = checkout["customer"] or ls.Customer(email=checkout["customer_email"]).id
    card = ls.PaymentMethod(type="card", card=dict(TEST_CARD))
    ls.PaymentMethod._api_attach(card.id, customer=customer)
    ls.Customer._api_update(customer, invoice_settings={"default_payment_method": card.id})
    if checkout["mode"] == "subscription":
        item = checkout["line_items"]["data"][0]
        sub = ls.Subscription(customer=customer, items=[{"plan": item["price"]["id"], "quantity": item["quantity"]}],
                              metadata=dict(checkout["subscription_data"].get("metadata") or {}))
        if sub.status != "active":
            raise UserError(402, f"The test card did not pay: subscription is {sub.status}")
        checkout["subscription"] = sub.id
    checkout.update(customer=customer, status="complete", payment_status="paid")
    ls_webhooks.schedule_webhook(ls.Event("checkout.session.completed", _Exported(checkout)))
    return checkout


async def complete_checkout_session(request: web.Request) -> web.Response:
    """POST /_test/checkout/{id}/complete (JSON back, or a redirect for the browser's form)."""
    checkout = _complete(_checkout(request))
    if _from_browser(request):
        raise web.HTTPSeeOther(checkout["success_url"].replace("{CHECKOUT_SESSION_ID}", checkout["id"]))
    return _json(checkout)


def _from_browser(request: web.Request) -> bool:
    """A form submitted by a browser (redirect it) rather than an API call (answer JSON)."""
    return (request.content_type == "application/x-www-form-urlencoded"
            or "text/html" in request.headers.get("Accept", ""))


def _page(title: str, body: str) -> web.Response:
    text = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>")
    return web.Response(text=text, content_type="text/html")


async def checkout_page(request: web.Request) -> web.Response:
    """GET /_test/checkout/{id}: Stripe's hosted page, reduced to Pay and Cancel."""
    checkout = _checkout(request)
    item = checkout["line_items"]["data"][0] if checkout["line_items"]["data"] else None
    price = item["price"]["id"] if item else ""
    name, amount = prices().get(price, (price, 0))
    cancel = html.escape(checkout["cancel_url"] or "/")
    body = (f"<p id='product'>{html.escape(name)}</p><p id='amount'>{amount / 100:.2f} EUR / month</p>"
            f"<p>Status: <span id='status'>{html.escape(checkout['status'])}</span></p>"
            f"<p>Card: 4242 4242 4242 4242</p>"
            f"<form method='post' action='/_test/checkout/{checkout['id']}/complete'>"
            f"<button id='pay' type='submit'>Subscribe</button></form>"
            f"<p><a id='cancel' href='{cancel}'>Back</a></p>")
    return _page("Test Checkout", body)


def _portal(request: web.Request) -> dict:
    portal_id = request.match_info["id"]
    if portal_id not in _portal_sessions:
        raise UserError(404, f"No such billing_portal.session: '{portal_id}'", {"code": "resource_missing"})
    return _portal_sessions[portal_id]


async def portal_page(request: web.Request) -> web.Response:
    """GET /_test/portal/{id}: the billing portal, reduced to "cancel" and "return"."""
    portal = _portal(request)
    subs = ls.Subscription._api_list_all(None, customer=portal["customer"])._list
    rows = "".join(f"<li class='subscription'>{html.escape(s.plan.id)}: {html.escape(s.status)}</li>" for s in subs)
    body = (f"<ul id='subscriptions'>{rows}</ul>"
            f"<form method='post' action='/_test/portal/{portal['id']}/cancel'>"
            f"<button id='cancel-subscription' type='submit'>Cancel plan</button></form>"
            f"<p><a id='return' href='{html.escape(portal['return_url'] or '/')}'>Return</a></p>")
    return _page("Test Billing Portal", body)


async def portal_cancel(request: web.Request) -> web.Response:
    """POST /_test/portal/{id}/cancel: cancel the customer's subscriptions now, then return."""
    portal = _portal(request)
    for sub in list(ls.Subscription._api_list_all(None, customer=portal["customer"])._list):
        ls.Subscription._api_delete(sub.id)  # queues customer.subscription.deleted
    if _from_browser(request):
        raise web.HTTPSeeOther(portal["return_url"] or "/")
    return _json(portal)


# --- test plumbing ----------------------------------------------------------------------------


async def reset(_request: web.Request) -> web.Response:
    """POST /_test/reset"""
    _reset_state()
    return _json({"reset": True})


async def inbox_receive(request: web.Request) -> web.Response:
    """POST /_test/inbox: a webhook endpoint that keeps what it receives."""
    payload = (await request.read()).decode()
    _inbox.append({"payload": payload, "signature": request.headers.get("Stripe-Signature", ""),
                   "type": json.loads(payload).get("type")})
    return _json({"received": True})


async def inbox_list(_request: web.Request) -> web.Response:
    """GET /_test/inbox"""
    return _json({"data": _inbox})


async def pending_webhooks(_request: web.Request) -> web.Response:
    """GET /_test/webhooks/pending: how many webhook deliveries are scheduled and not yet done."""
    pending = [t for t in asyncio.all_tasks()
               if t.get_coro().__name__ == "_send_webhook" and not t.done()]  # type: ignore[union-attr]
    return _json({"pending": len(pending)})


async def set_delay(request: web.Request) -> web.Response:
    """POST /_test/delay {"path": "/v1/subscriptions/", "seconds": 2}: answer those requests late."""
    data = await request.json()
    _delays[str(data["path"])] = float(data["seconds"])
    return _json({"delays": _delays, "in_flight": _in_flight["delayed"]})


def _release_holds() -> None:
    for event in _holds.values():
        event.set()
    _holds.clear()


async def set_hold(request: web.Request) -> web.Response:
    """POST /_test/hold {"path": "/v1/subscriptions/"}: keep those requests unanswered until /_test/release."""
    _holds[str((await request.json())["path"])] = asyncio.Event()
    return _json({"holds": list(_holds), "in_flight": _in_flight["delayed"]})


async def release_holds(_request: web.Request) -> web.Response:
    """POST /_test/release: answer every held request now."""
    _release_holds()
    return _json({"holds": [], "in_flight": _in_flight["delayed"]})


async def get_delay(_request: web.Request) -> web.Response:
    """GET /_test/delay: the delays and how many delayed requests are still being answered."""
    return _json({"delays": _delays, "in_flight": _in_flight["delayed"]})


@web.middleware
async def _slow(request: web.Request, handler: Any) -> web.StreamResponse:
    seconds = sum(s for prefix, s in _delays.items() if request.path.startswith(prefix))
    held = [event for prefix, event in _holds.items() if request.path.startswith(prefix)]
    if not seconds and not held:
        return await handler(request)
    _in_flight["delayed"] += 1
    try:
        await asyncio.sleep(seconds)
        for event in held:
            await event.wait()
        return await handler(request)
    finally:
        _in_flight["delayed"] -= 1


@web.middleware
async def _auth(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/_test/"):  # the browser's pages and test plumbing carry no key
        return await handler(request)
    return await ls_server.auth_middleware(request, handler)


@web.middleware
async def _idempotency(request: web.Request, handler: Any) -> web.StreamResponse:
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or not request.path.startswith("/v1/"):
        return await handler(request)
    scope = (request.headers.get("Authorization", ""), key)
    fingerprint = hashlib.sha256(request.path.encode() + b"\0" + await request.read()).hexdigest()
    async with _idempotency_locks.setdefault(scope, asyncio.Lock()):
        saved = _idempotent.get(scope)
        if saved is not None:
            if saved[0] != fingerprint:
                return _json({"error": {"type": "idempotency_error", "message": "Keys for idempotent requests "
                                        "can only be used with the same parameters they were first used with."}}, 400)
            replay = web.Response(body=saved[2], status=saved[1], content_type="application/json")
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        response = await handler(request)
        if isinstance(response, web.Response) and response.status < 400 and response.body is not None:
            _idempotent[scope] = (fingerprint, response.status, bytes(response.body))  # type: ignore[arg-type]
        return response


def build_app() -> web.Application:
    """localstripe's routes plus Checkout, the portal and the `/_test/` plumbing."""
    app = web.Application(middlewares=[ls_server.error_middleware, _auth, _slow, _idempotency])
    app.on_response_prepare.append(ls_server.add_cors_headers)
    app.router.add_post("/v1/checkout/sessions", create_checkout_session)
    app.router.add_get("/v1/checkout/sessions/{id}", retrieve_checkout_session)
    app.router.add_post("/v1/billing_portal/sessions", create_portal_session)
    app.router.add_get("/_test/checkout/{id}", checkout_page)
    app.router.add_post("/_test/checkout/{id}/complete", complete_checkout_session)
    app.router.add_get("/_test/portal/{id}", portal_page)
    app.router.add_post("/_test/portal/{id}/cancel", portal_cancel)
    app.router.add_post("/_test/reset", reset)
    app.router.add_post("/_test/inbox", inbox_receive)
    app.router.add_get("/_test/inbox", inbox_list)
    app.router.add_get("/_test/webhooks/pending", pending_webhooks)
    app.router.add_post("/_test/delay", set_delay)
    app.router.add_get("/_test/delay", get_delay)
    app.router.add_post("/_test/hold", set_hold)
    app.router.add_post("/_test/release", release_holds)
    for route in ls_server.app.router.routes():  # localstripe's own API, in its order
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method != "HEAD":
            app.router.add_route(route.method, path, _as_async(route.handler))
    return app


def _as_async(handler: Any) -> Any:
    if asyncio.iscoroutinefunction(handler):
        return handler

    async def wrapped(request: web.Request) -> web.StreamResponse:
        return handler(request)

    return wrapped


class StripeServer:
    """The app above on a free loopback port, served by its own event loop in a thread."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(build_app(), access_log=None)
        self._thread = threading.Thread(target=self._loop.run_forever, name="local-stripe", daemon=True)

    def start(self) -> str:
        """Start serving; returns the base URL (``http://127.0.0.1:<port>``)."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self.base_url

    async def _start(self) -> None:
        _reset_state()
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving and end the thread."""
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)

        async def _cancel_rest() -> None:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(_cancel_rest(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[str]:
    """A local Stripe-compatible server for the whole run; yields its base URL."""
    server = StripeServer()
    yield server.start()
    server.stop()


def app_env(base_url: str) -> dict[str, str]:
    """The settings that point the app at this server (set them, then `get_settings.cache_clear()`)."""
    sold = {str(plan.price_setting): price_for(plan.id) for plan in sold_plans()}  # STRIPE_PRICE_PRO, ...
    return {"STRIPE_API_KEY": API_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, **sold, "STRIPE_API_BASE": base_url}


# --- talking to the server (as Stripe's dashboard or the customer would) -------------------------


def stripe_call(base_url: str, method: str, path: str, **kwargs: Any) -> dict:
    """One authenticated request to the server; raises on an error status."""
    response = httpx.request(method, f"{base_url}{path}", headers={"Authorization": f"Bearer {API_KEY}"},
                             timeout=10, **kwargs)
    assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


def reset_stripe(base_url: str) -> None:
    """Forget every customer, subscription, session and webhook endpoint; recreate the plans."""
    stripe_call(base_url, "POST", "/_test/reset")


def session_id_from_url(url: str) -> str:
    """The Checkout Session id in a session's ``url``."""
    parts = urlsplit(url).path.rstrip("/").split("/")
    assert parts[-2:-1] == ["checkout"] and parts[-1].startswith("cs_"), f"not a local Checkout URL: {url}"
    return parts[-1]


def get_checkout_session(base_url: str, session_id: str) -> dict:
    """A Checkout Session as Stripe's API returns it."""
    return stripe_call(base_url, "GET", f"/v1/checkout/sessions/{session_id}")


def complete_checkout(base_url: str, session_id: str) -> dict:
    """Pay for a session with the test card (a real localstripe subscription); returns the session."""
    return stripe_call(base_url, "POST", f"/_test/checkout/{session_id}/complete", json={})


def list_all(base_url: str, path: str, **params: Any) -> list[dict]:
    """Every object of a list endpoint (follows pagination)."""
    found: list[dict] = []
    while True:
        page = stripe_call(base_url, "GET", path, params={"limit": 100, **params,
                                                          **({"starting_after": found[-1]["id"]} if found else {})})
        found.extend(page["data"])
        if not page["has_more"]:
            return found


def customers_of_tenant(base_url: str, tenant_id: str) -> list[dict]:
    """The customers whose metadata names this tenant."""
    return [c for c in list_all(base_url, "/v1/customers") if c["metadata"].get("tenant_id") == tenant_id]


def get_subscription(base_url: str, subscription_id: str) -> dict:
    """A subscription as Stripe's API returns it."""
    return stripe_call(base_url, "GET", f"/v1/subscriptions/{subscription_id}")


def create_subscription(base_url: str, customer_id: str, price_id: str, metadata: dict | None = None) -> dict:
    """A subscription made outside Checkout (the Dashboard, support); the customer needs a card."""
    return stripe_call(base_url, "POST", "/v1/subscriptions",
                       json={"customer": customer_id, "items": [{"plan": price_id}], "metadata": metadata or {}})


def cancel_subscription(base_url: str, subscription_id: str) -> dict:
    """Cancel a subscription now; returns it (status ``canceled``)."""
    return stripe_call(base_url, "DELETE", f"/v1/subscriptions/{subscription_id}")


def latest_invoice(base_url: str, customer_id: str) -> dict:
    """The newest invoice of a customer."""
    invoices = list_all(base_url, "/v1/invoices", customer=customer_id)
    assert invoices, f"no invoice for {customer_id}"
    return max(invoices, key=lambda i: i["created"])


def slow_down(base_url: str, path: str, seconds: float) -> None:
    """Make the server wait `seconds` before answering requests under `path` (until the next reset)."""
    stripe_call(base_url, "POST", "/_test/delay", json={"path": path, "seconds": seconds})


def hold_answers(base_url: str, path: str) -> None:
    """Keep requests under `path` unanswered until `release_answers` (or the next reset)."""
    stripe_call(base_url, "POST", "/_test/hold", json={"path": path})


def release_answers(base_url: str) -> None:
    """Answer every request `hold_answers` kept waiting."""
    stripe_call(base_url, "POST", "/_test/release")


def delayed_in_flight(base_url: str) -> int:
    """How many requests slowed down by `slow_down` are still waiting for their answer."""
    return int(stripe_call(base_url, "GET", "/_test/delay")["in_flight"])


def register_webhook_endpoint(base_url: str, url: str, secret: str = WEBHOOK_SECRET,
                              events: list[str] | None = None, name: str = "app") -> None:
    """Have localstripe send its events (and checkout.session.completed), signed, to `url`."""
    body: dict[str, Any] = {"url": url, "secret": secret}
    if events is not None:
        body["events"] = events
    response = httpx.post(f"{base_url}/_config/webhooks/{name}", json=body, timeout=10)
    assert response.status_code == 200, response.text


def received_webhooks(base_url: str) -> list[dict]:
    """What the ``/_test/inbox`` endpoint received: ``[{"type", "payload", "signature"}]``."""
    return stripe_call(base_url, "GET", "/_test/inbox")["data"]


# --- building, signing and delivering webhook events --------------------------------------------


class _Poster(Protocol):
    def post(self, url: str, *, content: Any = ..., headers: Any = ...) -> Any: ...


def make_event(event_type: str, obj: dict, *, created: int | None = None, event_id: str | None = None) -> dict:
    """A Stripe event around `obj` (a dict as the API returns it)."""
    return {"id": event_id or f"evt_test_{secrets.token_hex(12)}", "object": "event", "type": event_type,
            "created": int(time.time()) if created is None else created, "data": {"object": obj},
            "api_version": stripe.api_version, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}}


def signature_header(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Stripe's ``Stripe-Signature`` value: ``t=<ts>,v1=<hmac_sha256(secret, "<ts>.<payload>")>``."""
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={stripe.WebhookSignature._compute_signature(f'{ts}.{payload}', secret)}"


def signed(event: dict, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[str, dict[str, str]]:
    """(payload, headers) for delivering `event`, signed now unless `timestamp` is given."""
    payload = json.dumps(event)
    return payload, {"Stripe-Signature": signature_header(payload, secret, timestamp),
                     "Content-Type": "application/json"}


def deliver(client: _Poster, event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None,
            path: str = WEBHOOK_PATH) -> Any:
    """Sign `event` and POST it to the app (`client`: a TestClient or an httpx.Client with base_url)."""
    payload, headers = signed(event, secret, timestamp)
    return client.post(path, content=payload, headers=headers)


def checkout_completed_event(checkout: dict, **kwargs: Any) -> dict:
    """The ``checkout.session.completed`` event Stripe sends for a completed session."""
    return make_event("checkout.session.completed", checkout, **kwargs)


def pay_checkout(base_url: str, client: _Poster, checkout_url: str) -> tuple[dict, Any]:
    """Complete the session behind a Checkout URL and deliver its signed event to the app.

    Returns:
        (the completed session, the app's response to the webhook).
    """
    checkout = complete_checkout(base_url, session_id_from_url(checkout_url))
    return checkout, deliver(client, checkout_completed_event(checkout))
