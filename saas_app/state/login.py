"""The sign-in page and the link confirm page."""

from __future__ import annotations

import asyncio
import math
import time

import reflex as rx

from saas_app import routes
from saas_app.services.auth import magic_links
from saas_app.services.core.errors import AppError, RateLimited
from saas_app.state.session import SessionState, show_error

RESEND_COOLDOWN_SECONDS = 60
_QUERY_MESSAGES = {
    "code_invalid": "That code is not right or has expired. Check the latest email, or request a new code.",
    "invalid_input": "Enter the 6-digit code from the email.",
    "rate_limited": "Too many attempts. Please wait a minute and try again.",
}


LINK_USED = magic_links.LinkState.USED
LINK_EXPIRED = magic_links.LinkState.EXPIRED

class LoginState(SessionState):
    """Email form, "check your email" step with resend cooldown, and the code form."""

    email: str = ""
    email_error: str = ""
    code_error: str = ""
    notice: str = ""
    sent: bool = False
    sending: bool = False
    cooldown: int = 0
    next_path: str = routes.CREATE
    _cooldown_until: float = 0.0
    _ticking: bool = False
    _lost_workspace: str = ""  # set by a tab that lost access to its workspace, for the notice

    @rx.event
    async def on_load(self):
        """Read `next`, `error`, `email` and `signed_out` from the URL; skip the page when signed in."""
        params = self.router.url.query_parameters
        next_path = magic_links.safe_next_path(params.get("next"))
        if await self._resolve_principal() is not None:  # first: it may reset the page states
            return rx.redirect(next_path, replace=True)
        self.next_path = next_path
        self.email_error = ""
        self.code_error = _QUERY_MESSAGES.get(params.get("error", ""), "")
        lost = f"You no longer have access to {self._lost_workspace or 'that workspace'}."
        self.notice = {"1": "You are signed out.", "all": "You are signed out on every device.",
                       "access": lost + " Sign in again to continue."}.get(params.get("signed_out", ""), "")
        if params.get("signed_out"):  # nothing of the previous user stays on the page
            self.email, self.sent, self.cooldown, self._cooldown_until = "", False, 0, 0.0
        if params.get("email"):
            self.email, self.sent = params["email"], True
        elif params.get("address"):  # a new link for the address of a used or expired one
            self.email, self.sent = params["address"][:320], False
        elif not self.code_error:
            self.sent = False

    def _error_id(self) -> str:
        return "resend-error" if self.sent else "email-error"

    @rx.event
    def set_email(self, value: str):
        """Keep the typed address; clear a stale error."""
        self.email = value
        self.email_error = ""

    @rx.event
    async def request_link(self, form_data: dict | None = None):
        """Validate the address and email a sign-in link and code (ignored while one is sending or cooling down)."""
        if self.sending or (self.sent and self._cooldown_until > time.time()):
            return
        if form_data and "email" in form_data:
            self.email = str(form_data["email"]).strip()
        try:
            self.email = magic_links.normalize_email(self.email)
        except AppError as exc:
            self.email_error = exc.message
            yield show_error(self._error_id())
            return
        self.sending, self.email_error = True, ""
        yield
        wait = 0
        try:
            await self._call(magic_links.request_magic_link, email=self.email, next_path=self.next_path,
                             ctx=self._request_context())
        except RateLimited as exc:
            self.email_error = exc.message  # it says how long to wait, in plain words
            wait = min(exc.retry_after, RESEND_COOLDOWN_SECONDS) if self.sent else 0
        except AppError as exc:
            self.email_error = exc.message
        else:
            self.sent, self.code_error, self.notice = True, "", ""
            wait = RESEND_COOLDOWN_SECONDS
        finally:
            self.sending = False
        if self.email_error:
            yield show_error(self._error_id())
        if wait:
            self._cooldown_until, self.cooldown = time.time() + wait, wait
            if not self._ticking:
                self._ticking = True
                yield LoginState.tick_cooldown

    @rx.event(background=True)
    async def tick_cooldown(self):
        """Show the seconds left before another email can be sent (one loop per page)."""
        try:
            while True:
                await asyncio.sleep(1)
                async with self:
                    self.cooldown = max(0, math.ceil(self._cooldown_until - time.time()))
                    if self.cooldown == 0:
                        return
        finally:
            async with self:
                self._ticking = False

    @rx.event
    def use_another_email(self):
        """Back to the email form."""
        self.sent, self.code_error, self.email_error, self.cooldown = False, "", "", 0
        self._cooldown_until = 0.0


class VerifyState(SessionState):
    """The confirm page: shows which account a link signs in; only the button consumes it."""

    token: str = ""
    link_email: str = ""
    link_state: str = ""
    deleted_notice: str = ""
    new_link_path: str = routes.LOGIN
    checked: bool = False

    @rx.event
    async def on_load(self):
        """Look the token up without consuming it."""
        params = self.router.url.query_parameters
        self.checked = False
        self.token = params.get("token", "")[:200]
        found = await self._call(magic_links.check_magic_link, token=self.token)
        if params.get("error") and found.state == magic_links.LinkState.VALID:
            found = magic_links.LinkCheck(magic_links.LinkState.EXPIRED, found.email)
        self.link_state = found.state
        self.link_email = found.email if found.state == magic_links.LinkState.VALID else ""
        self.deleted_notice = "" if found.deleted_on is None else (
            f"The account of this address was deleted on {found.deleted_on:%d %b %Y} at your request. "
            "Signing in starts a new account with a new, empty workspace.")
        self.new_link_path = routes.login_for_address(found.email) if found.email else routes.LOGIN
        self.checked = True
