"""The signed-in user, resolved from the HttpOnly session cookie on the backend, and the
helpers every page state uses to call services.

Browsers never see a token: the cookie travels with the websocket handshake and each
handler re-resolves it here. Feature states subclass `SessionState` and either call
`await self._resolve_principal()` at the top of a handler, or let `_act` do it.

Services run off the event loop, each call in its own database session (`_call`).
Background tasks (`@rx.event(background=True)`) hold the state lock only to read or
write vars: they resolve the user with `_background_principal` and call services
outside `async with self`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any, ClassVar, Generic, TypeVar

import reflex as rx
from reflex.event import EventSpec

from saas_app import routes
from saas_app.db import session_scope
from saas_app.services.account import deletion
from saas_app.services.account.audit import RequestContext
from saas_app.services.auth.sessions import Principal, authenticate_browser_session
from saas_app.services.core.errors import AppError
from saas_app.services.teams.permissions import Action, can
from saas_app.services.usage.plans import FREE
from saas_app.settings import get_settings

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """How a user's action went: `message` is the success text or the service's error message."""

    ok: bool
    message: str
    result: T | None = None


def show_error(element_id: str) -> EventSpec:
    """After a refused submit: scroll the error into view and move the focus to it (it has tabindex -1)."""
    script = (f"setTimeout(() => {{ const el = document.getElementById('{element_id}'); "
              "if (el) { el.scrollIntoView({block: 'center'}); el.focus(); } }, 0)")
    return rx.call_script(script)


class SessionState(rx.State):
    """Who is signed in (display values only; ids stay on the backend)."""

    signed_in: bool = False
    user_email: str = ""
    plan: str = FREE.id
    deletion_notice: str = ""
    role: str = ""  # the user's role in the tab's workspace, and what it allows (the UI hides the rest)
    can_manage_billing: bool = False
    can_manage_members: bool = False
    can_manage_keys: bool = False
    _user_id: str = ""
    _tenant_id: str = ""  # the workspace the tab's state was loaded for
    _moved: bool = False  # the last check found the browser acting in another workspace than this tab showed
    # Vars that hold a secret for the one event that reveals it: cleared before a tab's state is sent again.
    _one_shot_vars: ClassVar[tuple[str, ...]] = ()

    def _cookie_value(self) -> str:
        raw = self.router.headers.cookie or ""
        try:
            jar = SimpleCookie(raw)
        except CookieError:
            return ""
        morsel = jar.get(get_settings().SESSION_COOKIE_NAME)
        return morsel.value if morsel else ""

    @staticmethod
    async def _call(service: Callable[..., T], /, **kwargs: Any) -> T:
        """Run `service(session=..., **kwargs)` in a worker thread, in a database session committed on return."""
        def run() -> T:
            with session_scope() as session:
                return service(session=session, **kwargs)

        return await asyncio.to_thread(run)

    async def _resolve_principal(self) -> Principal | None:
        """The tab's signed-in principal, or None: nobody is signed in, or the browser now acts in another
        workspace than the one this tab showed (switched in another tab). Either way the tab's user-bound
        states are reset, and `_to_login` sends the tab to sign in, or loads the page again for the
        workspace it acts in now: an action meant for the workspace on screen never runs in another."""
        principal = await self._call(authenticate_browser_session, cookie_value=self._cookie_value())
        user_id, tenant_id = (principal.user_id, principal.tenant_id) if principal else ("", "")
        moved = bool(self._user_id) and user_id == self._user_id and tenant_id != self._tenant_id
        if self._user_id and (user_id, tenant_id) != (self._user_id, self._tenant_id):
            # Signed out, another user in this tab, or another workspace: drop every per-user value.
            await self._reset_user_states()
        self._user_id, self._tenant_id, self._moved = user_id, tenant_id, moved
        self.signed_in = principal is not None
        self.user_email = principal.email if principal else ""
        self.plan = principal.plan if principal else FREE.id
        self._show_role(principal.role if principal else "")
        return None if moved else principal

    def _show_role(self, role: str) -> None:
        self.role = role
        self.can_manage_billing = bool(role) and can(role, Action.BILLING_MANAGE)
        self.can_manage_members = bool(role) and can(role, Action.MEMBERS_MANAGE)
        self.can_manage_keys = bool(role) and can(role, Action.API_KEYS_MANAGE)

    async def _user_states(self) -> list[SessionState]:
        """Every state bound to the tab's user, loaded if need be (a Redis-backed tab loads only part of its tree)."""
        found: list[SessionState] = []
        pending: list[type[rx.State]] = [SessionState]
        while pending:
            cls = pending.pop()
            found.append(await self.get_state(cls))  # type: ignore[arg-type]
            pending.extend(cls.get_substates())
        return found

    async def _reset_user_states(self) -> None:
        for state in await self._user_states():
            state.reset()

    async def _before_full_sync(self) -> None:
        """Before a tab's whole state is sent (a page load or reconnect): if the tab's principal changed since
        its last event, reset every user-bound state, and forget every one-shot value in any case."""
        await self._resolve_principal()
        self._moved = False  # this load shows the workspace the browser acts in now
        for state in await self._user_states():
            for name in type(state)._one_shot_vars:
                setattr(state, name, "")

    async def _background_principal(self) -> Principal | None:
        """In a background task: the tab's user, looked up without holding the state lock.

        None when nobody, another user, or the user in another workspace is signed in now (removed
        from the workspace, switched in another tab): the task stops, and the tab's next event resets
        what it shows.
        """
        async with self:
            cookie, user_id, tenant_id = self._cookie_value(), self._user_id, self._tenant_id
        principal = await self._call(authenticate_browser_session, cookie_value=cookie)
        same = principal is not None and (principal.user_id, principal.tenant_id) == (user_id, tenant_id)
        return principal if same else None

    async def _reload(self, principal: Principal) -> None:
        """Load what the page shows for `principal` (page states override this)."""

    async def _reload_signed_in(self) -> None:
        principal = await self._resolve_principal()
        if principal is not None:
            await self._reload(principal)

    async def _act(self, service: Callable[..., T], /, *, done: str, **kwargs: Any) -> Outcome[T] | None:
        """A user's action: call `service` as the signed-in user, then reload the page.

        The service gets `principal` and `ctx` (this request's context) besides `kwargs`.
        Returns None when nobody is signed in (the handler sends the browser to sign in);
        otherwise `done` as the message, or the service's own message when it refused.
        """
        principal = await self._resolve_principal()
        if principal is None:
            return None
        try:
            result = await self._call(service, principal=principal, ctx=self._request_context(), **kwargs)
            outcome: Outcome[T] = Outcome(ok=True, message=done, result=result)
        except AppError as exc:
            outcome = Outcome(ok=False, message=exc.message)
        await self._reload(principal)
        return outcome

    def _to_login(self) -> EventSpec:
        """Where a tab goes when `_resolve_principal` found no principal: the sign-in page, or, when the
        browser switched workspace in another tab, this page loaded again for that workspace."""
        if self._moved:
            self._moved = False
            return rx.call_script("window.location.reload()")
        return rx.redirect(routes.login_with_next(self._here()), replace=True)

    def _request_context(self) -> RequestContext:
        return RequestContext(ip=self.router.session.client_ip or "", user_agent=self.router.headers.user_agent,
                              request_id=secrets.token_hex(8))

    def _here(self) -> str:
        url = self.router.url
        path = url.path.rstrip("/") or routes.CREATE
        return f"{path}?{url.query}" if url.query else path

    @rx.event
    async def require_sign_in(self):
        """on_load of protected pages: send signed-out visitors to the sign-in page; tell a person who signs
        in to a workspace that is scheduled for deletion."""
        principal = await self._resolve_principal()
        if principal is None:
            return self._to_login()
        pending = await self._call(deletion.get_deletion, tenant_id=principal.tenant_id)
        keep = ("To keep it, cancel the deletion on the Account page." if can(principal.role, Action.WORKSPACE_DELETE)
                else "Download what you need, or ask an owner to cancel it.")
        self.deletion_notice = "" if pending is None else (
            f"This workspace is scheduled for deletion on {pending.scheduled_for:%d %b %Y, %H:%M} UTC. {keep}")
        return None
