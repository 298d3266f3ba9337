"""Background handlers never hold a tab's state lock while they wait on the database or Redis.

The app's real states run in Reflex's own event processor (in process, in-memory state
manager); Redis is reached through a TCP relay that can hold traffic, as a slow network
would. While a background task (the render page's poll, the wait after Checkout) waits
on Redis, another event of the same tab must still run at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import secrets
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from factories import make_render, make_user, set_plan, tenant_id_of
from reflex.state import State
from reflex_base.constants import CompileVars
from reflex_base.event import Event
from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor
from reflex_base.utils.format import format_event_handler
from shared_helpers import SettingsOverride
from sqlmodel import Session

from saas_app.models import AuthSession, utcnow
from saas_app.services.auth.tokens import sha256_hex
from saas_app.settings import get_settings
from saas_app.state.billing import BillingState
from saas_app.state.library import LibraryState
from saas_app.state.render import RenderState
from saas_app.state.usage import UsageState

pytestmark = pytest.mark.db
WAIT = 30


class HoldingRelay:
    """A TCP relay to Redis that, while `holding`, keeps each request to itself until `release()`."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.holding = threading.Event()
        self.held = threading.Event()  # a request arrived while holding
        self.released = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, requests: bool) -> None:
        try:
            while data := source.recv(65536):
                if requests and self.holding.is_set():
                    self.held.set()
                    self.released.wait()
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def release(self) -> None:
        self.holding.clear()
        self.released.set()

    def close(self) -> None:
        self.release()
        self._server.close()


@pytest.fixture
def relay(app_settings: SettingsOverride) -> Iterator[HoldingRelay]:
    """The app's Redis, reached through a relay that can hold requests."""
    url = urlsplit(get_settings().REDIS_URL)
    relay = HoldingRelay((url.hostname or "127.0.0.1", url.port or 6379))
    app_settings.set(REDIS_URL=url._replace(netloc=f"127.0.0.1:{relay.port}").geturl())
    yield relay
    relay.close()


def _browser_cookie(session: Session, user_id: str, tenant_id: str) -> str:
    raw = secrets.token_urlsafe(32)
    session.add(AuthSession(user_id=user_id, tenant_id=tenant_id, kind="browser", token_hash=sha256_hex(raw),
                            expires_at=utcnow() + timedelta(days=1)))
    session.commit()
    return f"{get_settings().SESSION_COOKIE_NAME}={raw}"


def _router_data(token: str, cookie: str, path: str, route: str) -> dict:
    return {"token": token, "sid": f"sid-{token}", "ip": "127.0.0.1", "pathname": route, "asPath": path,
            "query": {}, "headers": {"cookie": cookie, "user-agent": "pytest", "origin": "http://testserver"}}


async def _wait(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, WAIT), "the relay saw no request"


def _run_while_redis_holds(token: str, router_data: dict, start: Event, relay: HoldingRelay,
                           caplog: pytest.LogCaptureFixture, before: tuple[Event, ...] = (),
                           ends: bool = True) -> None:
    """Open the tab (`before`: its first events), start a background task, let it reach Redis
    (held), then run another event of the same tab (`ends`: then wait for the task to end)."""
    caplog.set_level(logging.WARNING)

    async def scenario() -> None:
        processor = BaseStateEventProcessor().configure()
        async with processor:
            hydrate = Event(name=format_event_handler(State.event_handlers[CompileVars.HYDRATE]),
                            router_data=router_data)
            for event in (hydrate, *before):  # the tab connects and loads its page
                await asyncio.wait_for(await processor.enqueue(token, event), WAIT)
            relay.holding.set()
            started = await processor.enqueue(token, start)
            await _wait(relay.held)  # the background task now waits on Redis

            [other] = Event.from_event_type(LibraryState.ask_delete("r1", "A topic"), router_data=router_data)
            await asyncio.wait_for(await processor.enqueue(token, other), WAIT)

            # Had the task held the lock, the event could only run once the task's Redis call
            # timed out, which logs a warning before the task lets go.
            timed_out = [r.getMessage() for r in caplog.records if r.name.startswith("saas_app")]
            assert timed_out == [], f"the event waited for the background task's Redis call to fail: {timed_out}"
            relay.release()
            if ends:
                await asyncio.wait_for(started, WAIT)
            else:  # a task that runs on while the tab is open (the tab's update stream)
                started.cancel()

    # A loop of its own, in its own thread (the browser tests' Playwright may own this thread's
    # loop), with this thread's context: Reflex keeps its registry of states in a context variable.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as runner:
        runner.submit(contextvars.copy_context().run, asyncio.run, scenario()).result()


def test_the_tabs_update_stream_waits_on_redis_without_holding_the_tab(
    session: Session, relay: HoldingRelay, caplog: pytest.LogCaptureFixture,
) -> None:
    user = make_user(session)
    render = make_render(session, user, status="running")
    token = secrets.token_hex(8)
    router_data = _router_data(token, _browser_cookie(session, user.id, tenant_id_of(user)), f"/render/{render.id}",
                               "/render/[id]")
    [load] = Event.from_event_type(RenderState.load, router_data=router_data)
    [watch] = Event.from_event_type(UsageState.watch, router_data=router_data)  # what every page load starts

    _run_while_redis_holds(token, router_data, watch, relay, caplog, before=(load,), ends=False)


def test_the_wait_after_checkout_reads_without_holding_the_tab(
    session: Session, relay: HoldingRelay, caplog: pytest.LogCaptureFixture,
) -> None:
    user = make_user(session)
    set_plan(session, tenant_id_of(user), "pro")  # the webhook has switched the plan: the banner is reloaded
    token = secrets.token_hex(8)
    router_data = _router_data(token, _browser_cookie(session, user.id, tenant_id_of(user)), "/billing", "/billing")
    [load] = Event.from_event_type(BillingState.load, router_data=router_data)
    [wait] = Event.from_event_type(BillingState.wait_for_plan("pro"), router_data=router_data)

    _run_while_redis_holds(token, router_data, wait, relay, caplog, before=(load,))
