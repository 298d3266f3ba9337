"""Browser tabs for state tests: the app's real states run in Reflex's own event processor (in process,
in-memory state manager) against real SQLite, Redis and SMTP.

Each tab is a client token whose updates (state deltas and frontend events such as redirects) are
captured by a stand-in for the websocket namespace; the app's token manager knows it as connected
between `open` and `close`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from factories import make_tenant, make_user
from reflex.istate.manager.token import BaseStateToken
from reflex.state import BaseState, State
from reflex.utils import prerequisites
from reflex_base.constants import CompileVars
from reflex_base.event import Event
from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor
from reflex_base.utils.format import format_event_handler
from sqlmodel import Session

from saas_app.models import AuthSession, Tenant, User, utcnow
from saas_app.services.auth.tokens import sha256_hex
from saas_app.settings import get_settings

WAIT = 20.0
S = TypeVar("S", bound=BaseState)


class Updates:
    """What the app sent to its tabs: state deltas and frontend events (the websocket namespace's part)."""

    def __init__(self) -> None:
        self.deltas: list[dict[str, Any]] = []
        self.events: list[Event] = []

    async def emit_update(self, update: Any, token: str) -> None:
        self.deltas.append(dict(update.delta or {}))
        self.events.extend(update.events or [])

    def values(self, name: str) -> list[Any]:
        """Every value sent for a var called `name` (any state), oldest first."""
        return [value for delta in self.deltas for sub in delta.values() for key, value in sub.items()
                if key == name or key.startswith(f"{name}_rx_state")]

    def frontend(self, name: str) -> list[dict[str, Any]]:
        """The payloads of frontend events called `name` ("_redirect", "_call_script")."""
        return [dict(e.payload) for e in self.events if e.name == name]


def cookie_for(session: Session, user: User, tenant_id: str) -> str:
    """The `Cookie` header of a new browser session of `user` acting in `tenant_id` (committed)."""
    raw = secrets.token_urlsafe(32)
    session.add(AuthSession(user_id=user.id, tenant_id=tenant_id, kind="browser", token_hash=sha256_hex(raw),
                            expires_at=utcnow() + timedelta(days=1)))
    session.commit()
    return f"{get_settings().SESSION_COOKIE_NAME}={raw}"


class Tab:
    """One browser tab: a client token with the session cookie of one user, on one page."""

    def __init__(self, processor: BaseStateEventProcessor, cookie: str, path: str, route: str | None = None) -> None:
        self.processor, self.cookie, self.token = processor, cookie, secrets.token_hex(8)
        self.go(path, route)

    def go(self, path: str, route: str | None = None) -> None:
        """The tab is on another page now (the router data its next events carry)."""
        self.router_data = {"token": self.token, "sid": f"sid-{self.token}", "ip": "127.0.0.1",
                            "pathname": route or path.split("?")[0], "asPath": path, "query": {},
                            "headers": {"cookie": self.cookie, "user-agent": "pytest", "origin": "http://testserver"}}

    async def run(self, spec: Any) -> None:
        """Run one event of this tab to its end (events it chains run on by themselves)."""
        [event] = Event.from_event_type(spec, router_data=self.router_data)
        await asyncio.wait_for(await self.processor.enqueue(self.token, event), WAIT)

    async def open(self, *loaders: Any) -> None:
        """Connect (the app's token manager knows the tab from now), hydrate and run the page's on_load handlers."""
        await _tokens().link_token_to_sid(self.token, self.router_data["sid"])
        hydrate = Event(name=format_event_handler(State.event_handlers[CompileVars.HYDRATE]),
                        router_data=self.router_data)
        await asyncio.wait_for(await self.processor.enqueue(self.token, hydrate), WAIT)
        for loader in loaders:
            await self.run(loader)


    async def close(self) -> None:
        """The tab goes away (its websocket disconnects)."""
        await _tokens().disconnect_token(self.token, self.router_data["sid"])

    async def state(self, cls: type[S]) -> S:
        """The tab's instance of a state (the in-memory manager holds the live objects)."""
        manager = self.processor._root_context.state_manager
        root = await manager.get_state(BaseStateToken(ident=self.token, cls=State))
        return await root.get_state(cls)  # type: ignore[return-value]


def _tokens() -> Any:
    """The app's record of connected tabs (what the access watch asks)."""
    return prerequisites.get_app().app.event_namespace._token_manager


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"waited {WAIT} s for {what}"
        await asyncio.sleep(0.05)


def run_tabs(scenario: Callable[[BaseStateEventProcessor, Updates], Awaitable[None]]) -> None:
    """Run a scenario in a loop of its own thread (the browser tests' Playwright may own this thread's loop),
    with this thread's context (Reflex keeps its registry of states in a context variable)."""
    async def main() -> None:
        updates = Updates()
        processor = BaseStateEventProcessor().configure(event_namespace=updates)  # type: ignore[arg-type]
        async with processor:
            await scenario(processor, updates)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as runner:
        runner.submit(contextvars.copy_context().run, asyncio.run, main()).result()


def make_team(session: Session, plan: str = "pro") -> tuple[Tenant, User, User]:
    tenant = make_tenant(session, name="Acme Studio", plan=plan)
    return tenant, make_user(session, tenant, email="olivia@example.com"), make_user(
        session, tenant, role="member", email="mia@example.com")


