"""The signed-in user, resolved from the HttpOnly session cookie on the backend.

Browsers never see a token: the cookie travels with the websocket handshake and each
handler re-resolves it here. Feature states subclass `SessionState` and call
`await self._resolve_principal()` at the top of every handler.
"""

from __future__ import annotations

import asyncio
import secrets
from http.cookies import CookieError, SimpleCookie

import reflex as rx

from saas_app import routes
from saas_app.db import session_scope
from saas_app.services.account.audit import RequestContext
from saas_app.services.auth.sessions import Principal, authenticate_browser_session
from saas_app.services.usage.plans import FREE
from saas_app.settings import get_settings


def _lookup(cookie_value: str) -> Principal | None:
    with session_scope() as session:
        return authenticate_browser_session(session=session, cookie_value=cookie_value)


class SessionState(rx.State):
    """Who is signed in (display values only; ids stay on the backend)."""

    signed_in: bool = False
    user_email: str = ""
    plan: str = FREE.id
    _user_id: str = ""

    def _cookie_value(self) -> str:
        raw = self.router.headers.cookie or ""
        try:
            jar = SimpleCookie(raw)
        except CookieError:
            return ""
        morsel = jar.get(get_settings().SESSION_COOKIE_NAME)
        return morsel.value if morsel else ""

    async def _resolve_principal(self) -> Principal | None:
        principal = await asyncio.to_thread(_lookup, self._cookie_value())
        user_id = principal.user_id if principal else ""
        if self._user_id and user_id != self._user_id:
            # Signed out, or another user in this tab: drop every per-user value on the page states.
            (await self.get_state(SessionState)).reset()
        self._user_id = user_id
        self.signed_in = principal is not None
        self.user_email = principal.email if principal else ""
        self.plan = principal.plan if principal else FREE.id
        return principal

    def _to_login(self):  # type: ignore[no-untyped-def]
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
        """on_load of protected pages: send signed-out visitors to the sign-in page."""
        if await self._resolve_principal() is None:
            return self._to_login()
